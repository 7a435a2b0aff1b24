using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace LocalFeat.Models;

/// <summary>Reads PyTorch state_dicts written by Python (through TorchSharp.PyBridge).</summary>
public static class StateDicts
{
    /// <summary>
    /// The tensors of a <c>torch.save(state_dict, path)</c> file (zip format, <c>.pth</c>/<c>.pt</c>) or of a
    /// <c>.safetensors</c> file, by key; the caller disposes them. Non-tensor entries are skipped.
    /// </summary>
    /// <exception cref="FileNotFoundException">no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">the file is not a readable state_dict; the message names the file and the reader.</exception>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"state_dict file not found: '{path}'", path);
        bool safetensors = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
        try
        {
            return safetensors
                ? Safetensors.LoadStateDict(path)
                : PyTorchUnpickler.UnpickleStateDict(path).Cast<System.Collections.DictionaryEntry>()
                    .Where(e => e.Value is Tensor).ToDictionary(e => (string)e.Key, e => (Tensor)e.Value!);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not a readable PyTorch state_dict ({(safetensors ? "Safetensors.LoadStateDict" : "PyTorchUnpickler.UnpickleStateDict")}: {e.Message})", e);
        }
    }
}
