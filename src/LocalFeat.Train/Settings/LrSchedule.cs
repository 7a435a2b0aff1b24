namespace LocalFeat.Train.Settings;

/// <summary>Learning-rate schedules after the warm-up (<c>optimizer.lr_schedule</c>).</summary>
public enum LrSchedule
{
    /// <summary>Cosine from lr down to lr·lr_final_factor.</summary>
    Cosine,
    /// <summary>×√f at half the budget, ×f at three quarters.</summary>
    Step,
    /// <summary>lr throughout.</summary>
    Constant,
}
