// PENDING: stands in for the arena's MemoryBudget.Rent/TryRent/RentAsync (issue 11), with the same signatures, until
// that branch merges; then this folder is deleted and the instance methods take over (they win over extensions).
using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Headroom.Lab.Pending;

internal static class RentShim
{
    public static IMemoryOwner<byte> Rent(this MemoryBudget budget, int size, AllocationMode mode = AllocationMode.NoFail,
        AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        budget.Charge(size, mode, priority, site, cancellationToken);
        return new NativeOwner(budget, size);
    }

    public static bool TryRent(this MemoryBudget budget, int size, [NotNullWhen(true)] out IMemoryOwner<byte>? owner,
        AllocationMode mode = AllocationMode.NoWait, AllocationPriority priority = AllocationPriority.Normal, string? site = null)
    {
        owner = budget.TryCharge(size, mode, priority, site) ? new NativeOwner(budget, size) : null;
        return owner is not null;
    }

    public static async ValueTask<IMemoryOwner<byte>> RentAsync(this MemoryBudget budget, int size, AllocationMode mode = AllocationMode.NoFail,
        AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        await budget.ChargeAsync(size, mode, priority, site, cancellationToken).ConfigureAwait(false);
        return new NativeOwner(budget, size);
    }

    private sealed unsafe class NativeOwner : MemoryManager<byte>
    {
        private readonly MemoryBudget _budget;
        private readonly int _size;
        private byte* _pointer;

        public NativeOwner(MemoryBudget budget, int size)
        {
            _budget = budget;
            _size = size;
            _pointer = (byte*)NativeMemory.Alloc((nuint)size);
        }

        public override Span<byte> GetSpan()
        {
            ObjectDisposedException.ThrowIf(_pointer is null, this);
            return new Span<byte>(_pointer, _size);
        }

        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            byte* pointer = _pointer;
            if (pointer is null)
            {
                return;
            }

            _pointer = null;
            NativeMemory.Free(pointer);
            _budget.Uncharge(_size);
        }
    }
}
