using Microsoft.Extensions.Options;

namespace Headroom.AspNetCore;

/// <summary>Validates <see cref="TransportMemoryOptions"/> when the host starts, with the message of the rule broken.</summary>
internal sealed class TransportMemoryOptionsValidation : IValidateOptions<TransportMemoryOptions>
{
    public ValidateOptionsResult Validate(string? name, TransportMemoryOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentOutOfRangeException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
