using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch.Autograd;

/// <summary>
/// A custom autograd function written in C#, as <c>torch.autograd.Function</c>: subclass it, implement
/// <see cref="Forward"/> and <see cref="Backward"/>, call <see cref="Apply"/>. libtorch records one graph
/// node per Apply; its backward calls <see cref="Backward"/> (on libtorch's autograd thread for CUDA).
/// Tensors created inside Forward/Backward are freed when the callback returns, except those returned or
/// saved with <see cref="FunctionContext.SaveForBackward"/>.
/// </summary>
public abstract class Function
{
    private const int MaxTensors = 64;

    private static long s_liveContexts;

    static Function() => Callbacks.Register();

    /// <summary>Contexts whose graph node is still alive (for leak tests).</summary>
    internal static long LiveContexts => Interlocked.Read(ref s_liveContexts);

    /// <summary>Computes the outputs (gradients are not recorded here).</summary>
    protected abstract Tensor[] Forward(FunctionContext ctx, Tensor[] inputs);

    /// <summary>
    /// Gradients with respect to each input of <see cref="Forward"/>, given the gradients of each output
    /// (zeros for outputs that did not reach the loss). Return null for an input without gradient.
    /// </summary>
    protected abstract Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs);

    /// <summary>Runs Forward and records the node so that backward() reaches <paramref name="inputs"/>.</summary>
    public unsafe Tensor[] Apply(params Tensor[] inputs)
    {
        if (inputs.Length > MaxTensors) throw new ArgumentException($"at most {MaxTensors} inputs, got {inputs.Length}", nameof(inputs));
        var ctx = new FunctionContext(this);
        var handle = GCHandle.Alloc(ctx);
        Interlocked.Increment(ref s_liveContexts);
        IntPtr* inHandles = stackalloc IntPtr[Math.Max(inputs.Length, 1)];
        IntPtr* outHandles = stackalloc IntPtr[MaxTensors];
        for (int i = 0; i < inputs.Length; i++) inHandles[i] = inputs[i].Handle;
        int status = Native.lft_function_apply(GCHandle.ToIntPtr(handle), inHandles, inputs.Length, outHandles, MaxTensors, out int n);
        GC.KeepAlive(inputs);
        // Once Forward has run, the graph node owns the handle and frees it through the release callback.
        if (!ctx.Entered) Release(handle);
        if (status != 0) ctx.ThrowFailure();
        var outputs = new Tensor[n];
        for (int i = 0; i < n; i++) outputs[i] = new Tensor(outHandles[i]);
        return outputs;
    }

    private static void Release(GCHandle handle)
    {
        handle.Free();
        Interlocked.Decrement(ref s_liveContexts);
    }

    internal Tensor[] InvokeForward(FunctionContext ctx, Tensor[] inputs) => Forward(ctx, inputs);
    internal Tensor?[] InvokeBackward(FunctionContext ctx, Tensor[] grads) => Backward(ctx, grads);

    /// <summary>The native → C# trampolines, registered once per process.</summary>
    private static unsafe class Callbacks
    {
        private static int s_registered;

        public static void Register()
        {
            if (Interlocked.Exchange(ref s_registered, 1) == 1) return;
            Native.Check(Native.lft_function_register(&OnForward, &OnBackward, &OnRelease));
        }

        [UnmanagedCallersOnly]
        private static int OnForward(IntPtr state, IntPtr nativeCtx, IntPtr* inputs, int ninputs, IntPtr* outputs, int maxOutputs, int* noutputs)
        {
            var ctx = (FunctionContext)GCHandle.FromIntPtr(state).Target!;
            ctx.Entered = true;
            return Run(ctx, nativeCtx, () =>
            {
                var ins = new Tensor[ninputs];
                for (int i = 0; i < ninputs; i++) ins[i] = new Tensor(inputs[i]);
                Tensor[] outs = ctx.Function.InvokeForward(ctx, ins);
                if (outs.Length > maxOutputs) throw new InvalidOperationException($"Forward returned {outs.Length} outputs, at most {maxOutputs} are supported");
                for (int i = 0; i < outs.Length; i++)
                {
                    if (outs[i] is null) throw new InvalidOperationException($"Forward returned null at output {i}");
                    Native.Check(Native.lft_tensor_alias(outs[i].Handle, out outputs[i]));
                }
                *noutputs = outs.Length;
            });
        }

        [UnmanagedCallersOnly]
        private static int OnBackward(IntPtr state, IntPtr nativeCtx, IntPtr* grads, int ngrads, IntPtr* gradInputs, int ninputs)
        {
            var ctx = (FunctionContext)GCHandle.FromIntPtr(state).Target!;
            return Run(ctx, nativeCtx, () =>
            {
                var gs = new Tensor[ngrads];
                for (int i = 0; i < ngrads; i++) gs[i] = grads[i] == IntPtr.Zero ? throw new InvalidOperationException("undefined output gradient") : new Tensor(grads[i]);
                Tensor?[] result = ctx.Function.InvokeBackward(ctx, gs);
                if (result.Length != ninputs)
                    throw new InvalidOperationException($"Backward returned {result.Length} gradients, Forward had {ninputs} inputs");
                for (int i = 0; i < ninputs; i++)
                {
                    gradInputs[i] = IntPtr.Zero;
                    if (result[i] is Tensor g) Native.Check(Native.lft_tensor_alias(g.Handle, out gradInputs[i]));
                }
            });
        }

        [UnmanagedCallersOnly]
        private static void OnRelease(IntPtr state) => Release(GCHandle.FromIntPtr(state));

        // Runs a callback body with its own dispose scope; an exception becomes a failure status that
        // libtorch rethrows as a C++ exception, and Apply/backward rethrow as a C# exception.
        private static int Run(FunctionContext ctx, IntPtr nativeCtx, Action body)
        {
            ctx.NativeContext = nativeCtx;
            try
            {
                using (torch.NewDisposeScope()) body();
                return 0;
            }
            catch (Exception e)
            {
                ctx.Failure = e;
                Native.lft_set_callback_error($"{ctx.Function.GetType().Name}: {e.GetType().Name}: {e.Message}");
                return 1;
            }
            finally
            {
                ctx.NativeContext = IntPtr.Zero;
            }
        }
    }
}

/// <summary>Per-call context of a <see cref="Function"/>: saved tensors and non-tensor values.</summary>
public sealed class FunctionContext
{
    internal FunctionContext(Function function) => Function = function;

    internal Function Function { get; }
    internal bool Entered { get; set; }
    internal IntPtr NativeContext { get; set; }
    internal Exception? Failure { get; set; }

    /// <summary>Non-tensor values kept from Forward to Backward (sizes, flags, options). Tensors go through SaveForBackward.</summary>
    public Dictionary<string, object?> Data { get; } = new();

    private IntPtr Ctx => NativeContext != IntPtr.Zero ? NativeContext
        : throw new InvalidOperationException("the function context is only usable inside Forward or Backward");

    /// <summary>Saves tensors for Backward (libtorch checks they were not modified in place since).</summary>
    public unsafe void SaveForBackward(params Tensor[] tensors)
    {
        IntPtr* h = stackalloc IntPtr[Math.Max(tensors.Length, 1)];
        for (int i = 0; i < tensors.Length; i++) h[i] = tensors[i].Handle;
        Native.Check(Native.lft_ctx_save_for_backward(Ctx, h, tensors.Length));
        GC.KeepAlive(tensors);
    }

    /// <summary>The tensors given to SaveForBackward, in order (valid during Backward).</summary>
    public unsafe Tensor[] SavedTensors
    {
        get
        {
            IntPtr* h = stackalloc IntPtr[64];
            Native.Check(Native.lft_ctx_saved(Ctx, h, 64, out int n));
            var result = new Tensor[n];
            for (int i = 0; i < n; i++) result[i] = new Tensor(h[i]);
            return result;
        }
    }

    /// <summary>Marks outputs (e.g. indices) that carry no gradient.</summary>
    public unsafe void MarkNonDifferentiable(params Tensor[] outputs)
    {
        IntPtr* h = stackalloc IntPtr[Math.Max(outputs.Length, 1)];
        for (int i = 0; i < outputs.Length; i++) h[i] = outputs[i].Handle;
        Native.Check(Native.lft_ctx_mark_non_differentiable(Ctx, h, outputs.Length));
        GC.KeepAlive(outputs);
    }

    /// <summary>Whether input <paramref name="index"/> of Forward needs a gradient.</summary>
    public bool NeedsInputGrad(int index)
    {
        Native.Check(Native.lft_ctx_needs_input_grad(Ctx, index, out int needs));
        return needs != 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ThrowFailure()
    {
        string message = Marshal.PtrToStringUTF8(Native.lft_last_error()) ?? "unknown error";
        if (Failure != null) throw new TorchException(message, Failure);
        throw new TorchException(message);
    }
}
