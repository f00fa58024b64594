using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Headroom.AspNetCore;

/// <summary>
/// Admission by memory: before the handler runs, a request reserves its worst case (its <c>Content-Length</c> and its
/// endpoint's estimate) and waits for it, asynchronously and FIFO, up to a deadline; not granted in time, it is answered
/// 503 with <c>Retry-After</c>, so overload becomes back-pressure instead of an OOM kill. A worst case that no budget
/// state could ever grant is answered 413 at once.
/// </summary>
internal sealed partial class MemoryAdmissionMiddleware
{
    private readonly RequestDelegate _next;
    private readonly MemoryAdmissionOptions _options;
    private readonly MemoryBudget _budget;
    private readonly ILogger _logger;
    private readonly string _retryAfter;
    private readonly BudgetMemoryPoolFactory? _transport;

    public MemoryAdmissionMiddleware(RequestDelegate next, IOptions<MemoryAdmissionOptions> options, IServiceProvider services, ILogger<MemoryAdmissionMiddleware> logger)
    {
        _next = next;
        _options = options.Value; // validated here too, so a bad value fails when the pipeline is built
        if (_options.Check() is { } broken)
        {
            throw new OptionsValidationException(nameof(MemoryAdmissionOptions), typeof(MemoryAdmissionOptions), [broken]);
        }

        _budget = _options.Budget ?? (MemoryBudget?)services.GetService(typeof(MemoryBudget))
            ?? throw new InvalidOperationException($"Admission by memory needs a budget: set {nameof(MemoryAdmissionOptions)}.{nameof(MemoryAdmissionOptions.Budget)} or register a {nameof(MemoryBudget)} singleton.");
        _logger = logger;
        _transport = services.GetService(typeof(BudgetMemoryPoolFactory)) as BudgetMemoryPoolFactory;
        _retryAfter = ((long)Math.Ceiling(_options.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
    }

    public async Task InvokeAsync(HttpContext context)
    {
        long bytes = WorstCase(context);
        if (bytes == 0)
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        long grantable = Grantable();
        if (bytes > grantable)
        {
            LogNeverGrantable(_logger, context.Request.Path, bytes, _budget.Name, grantable);
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }

        MemoryReservation? reservation = await ReserveAsync(context, bytes).ConfigureAwait(false);
        if (reservation is null)
        {
            return;
        }

        context.Features.Set<IMemoryAdmissionFeature>(new MemoryAdmissionFeature(reservation));
        context.Response.RegisterForDisposeAsync(reservation); // released once the response has completed, whatever the handler did
        using (reservation.Enter())
        {
            await _next(context).ConfigureAwait(false);
        }
    }

    /// <summary>The reservation, or null when the request was answered (503) or its client went away.</summary>
    private async Task<MemoryReservation?> ReserveAsync(HttpContext context, long bytes)
    {
        using var deadline = new CancellationTokenSource(_options.Deadline, _options.TimeProvider);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, context.RequestAborted);
        try
        {
            return await _budget.ReserveAsync(bytes, ReservationMode.Tokens, cancellationToken: wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return null; // nobody to answer
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            LogDeadline(_logger, context.Request.Path, bytes, _options.Deadline, _budget.Name, _budget.Available);
        }
        catch (MemoryAllocationException e)
        {
            LogRefused(_logger, context.Request.Path, bytes, e.Message);
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = _retryAfter;
        return null;
    }

    /// <summary>The most a reservation can ever get here: capacity − min watermark, less the transports' share, held for the server's life.</summary>
    private long Grantable()
    {
        long transport = _transport is { } factory && factory.Budget == _budget ? factory.Reservation?.Amount ?? 0 : 0;
        return _budget.Capacity - _budget.MinWatermark - transport;
    }

    private long WorstCase(HttpContext context)
    {
        long estimate = context.GetEndpoint()?.Metadata.GetMetadata<IMemoryAdmissionMetadata>()?.EstimateBytes ?? _options.DefaultEstimateBytes;
        long body = _options.ReserveContentLength ? context.Request.ContentLength ?? 0 : 0;
        return body > long.MaxValue - estimate ? long.MaxValue : estimate + body;
    }

    [LoggerMessage(1, LogLevel.Information, "Request {Path} answered 503: {Bytes} bytes not reserved within {Deadline} on budget '{Budget}' ({Available} bytes available)")]
    private static partial void LogDeadline(ILogger logger, PathString path, long bytes, TimeSpan deadline, string budget, long available);

    [LoggerMessage(2, LogLevel.Information, "Request {Path} answered 503: {Bytes} bytes refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, PathString path, long bytes, string reason);

    [LoggerMessage(3, LogLevel.Information, "Request {Path} answered 413: its worst case of {Bytes} bytes exceeds what budget '{Budget}' can ever reserve ({Grantable} bytes)")]
    private static partial void LogNeverGrantable(ILogger logger, PathString path, long bytes, string budget, long grantable);
}
