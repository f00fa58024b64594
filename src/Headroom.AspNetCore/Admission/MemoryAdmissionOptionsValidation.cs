using Microsoft.Extensions.Options;

namespace Headroom.AspNetCore;

/// <summary>Validates <see cref="MemoryAdmissionOptions"/> when the host starts (and when the middleware is built).</summary>
internal sealed class MemoryAdmissionOptionsValidation : IValidateOptions<MemoryAdmissionOptions>
{
    public ValidateOptionsResult Validate(string? name, MemoryAdmissionOptions options) =>
        options.Check() is { } broken ? ValidateOptionsResult.Fail(broken) : ValidateOptionsResult.Success;
}
