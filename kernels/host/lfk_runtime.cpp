// Host emulation of CUDA's execution model: runs the kernels of kernels/ on the CPU.
//
// Model
//  * A launch's blocks are spread over worker threads (a process-wide pool, grown on demand);
//    a worker runs one block to completion before taking the next, so worker-thread storage
//    (`__shared__` = static thread_local, the dynamic shared buffer) is per running block.
//  * The threads of a block run as Boost.Context fibers on that worker. A "runner" fiber claims
//    the next unstarted thread and calls the kernel as a plain function; only when the thread
//    blocks (__syncthreads, a warp collective) does the scheduler start a new runner for the
//    next thread. A kernel without barriers therefore runs the whole block as a plain loop in
//    one fiber; a kernel with barriers costs one fiber (and stack) per suspended thread.
//    Stacks come from a per-worker pool with a guard page each (an overflow faults instead
//    of silently corrupting a neighbour's stack).
//  * __syncthreads(): the thread blocks; when every thread of the block is blocked or exited
//    the scheduler either releases the barrier (all threads wait there) or fails the launch
//    (barrier divergence: some exited while others wait; or a deadlock with warp collectives).
//  * Warp collectives are lane-synchronous: each lane deposits its operand and blocks; the last
//    lane of the group (mask ∩ lanes that exist in this, possibly partial, warp) computes every
//    lane's result with the PTX semantics and releases them.
//  * Schedule: in order (threads in index order between barriers) or shuffled (a seeded random
//    permutation at start, and a random pick among runnable threads after every barrier or
//    collective; the seed is mixed with the block index, so runs are reproducible).
//  * Errors (bad configuration, unknown kernel, divergence, deadlock, a C++ exception in a
//    kernel) fail the launch with a message; suspended fibers are unwound, nothing leaks.
#include "lfk_api.h"
#include "lfk_runtime.hpp"

#include <boost/context/fiber.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ctx = boost::context;

namespace lfk {
namespace rt {

__thread const ThreadView* tl_thread = nullptr;
__thread const BlockView* tl_block = nullptr;

namespace {

// ----------------------------------------------------------------------------- small helpers
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

struct KernelError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::uint64_t splitmix64(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

const char* warp_op_name(int op) {
    switch (op) {
        case kWarpSync: return "__syncwarp";
        case kShflIdx: return "__shfl_sync";
        case kShflUp: return "__shfl_up_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflXor: return "__shfl_xor_sync";
        case kBallot: return "__ballot_sync";
        case kAny: return "__any_sync";
        case kAll: return "__all_sync";
        case kReduceAdd: return "__reduce_add_sync";
        case kReduceMinU: case kReduceMinI: return "__reduce_min_sync";
        case kReduceMaxU: case kReduceMaxI: return "__reduce_max_sync";
        case kReduceAnd: return "__reduce_and_sync";
        case kReduceOr: return "__reduce_or_sync";
        case kReduceXor: return "__reduce_xor_sync";
        case kMatchAny: return "__match_any_sync";
        default: return "a warp collective";
    }
}

// ------------------------------------------------------------------------------- registry
struct Entry {
    const char* name;
    Invoker invoker;
    int arity;
};

std::vector<Entry>& entries() {
    static std::vector<Entry> e;  // filled by static initialisers of the kernel files
    return e;
}

// Sorted by name on first use (after every static initialiser of the library has run).
const std::vector<Entry>& sorted_entries() {
    static const std::vector<Entry> sorted = [] {
        std::vector<Entry> s = entries();
        std::stable_sort(s.begin(), s.end(),
                         [](const Entry& a, const Entry& b) { return std::strcmp(a.name, b.name) < 0; });
        return s;
    }();
    return sorted;
}

const Entry* find_kernel(const char* name) {
    const auto& s = sorted_entries();
    auto it = std::lower_bound(s.begin(), s.end(), name,
                               [](const Entry& e, const char* n) { return std::strcmp(e.name, n) < 0; });
    return (it != s.end() && std::strcmp(it->name, name) == 0) ? &*it : nullptr;
}

// ---------------------------------------------------------------------------- stack pool
// Fixed-size fiber stacks, each above a PROT_NONE guard page, recycled within a worker.
class StackPool {
public:
    explicit StackPool(std::size_t usable) {
        page_ = (std::size_t)sysconf(_SC_PAGESIZE);
        size_ = (usable + page_ - 1) / page_ * page_;
    }
    StackPool(const StackPool&) = delete;
    StackPool& operator=(const StackPool&) = delete;

    ctx::stack_context allocate() {
        if (free_.empty()) grow();
        char* base = free_.back();
        free_.pop_back();
        ctx::stack_context sc;
        sc.size = size_;
        sc.sp = base + page_ + size_;
        return sc;
    }
    void deallocate(ctx::stack_context& sc) noexcept {
        free_.push_back(static_cast<char*>(sc.sp) - size_ - page_);  // capacity reserved in grow()
    }

private:
    void grow() {
        constexpr std::size_t kPerChunk = 32;
        const std::size_t slot = size_ + page_;
        void* m = mmap(nullptr, kPerChunk * slot, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) throw std::bad_alloc();
        total_ += kPerChunk;
        free_.reserve(total_);
        char* c = static_cast<char*>(m);
        for (std::size_t i = kPerChunk; i-- > 0;) {
            mprotect(c + i * slot, page_, PROT_NONE);
            free_.push_back(c + i * slot);
        }
    }
    std::size_t page_, size_, total_ = 0;
    std::vector<char*> free_;
};

struct StackRef {  // the allocator handed to each fiber (copied into its control record)
    StackPool* pool;
    ctx::stack_context allocate() { return pool->allocate(); }
    void deallocate(ctx::stack_context& sc) noexcept { pool->deallocate(sc); }
};

constexpr std::size_t kFiberStackBytes = 256 * 1024;

// --------------------------------------------------------------------------- launch state
struct Settings {
    bool shuffled = false;
    std::uint64_t seed = 0;
    int workers = 0;
};
thread_local Settings tl_settings;
thread_local std::string tl_error;

struct Launch {
    const char* name = nullptr;
    Invoker invoker = nullptr;
    dim3 grid, block;
    unsigned shared = 0;
    void** params = nullptr;
    bool shuffled = false;
    std::uint64_t seed = 0;
    std::uint64_t nblocks = 0;

    std::atomic<std::uint64_t> next_block{0};
    std::atomic<bool> failed{false};
    std::mutex m;
    std::condition_variable done;
    int tickets_left = 0;
    std::string error;

    void fail(const std::string& msg) {
        std::lock_guard<std::mutex> lk(m);
        if (!failed.load()) error = msg;
        failed.store(true);
    }
};

// ---------------------------------------------------------------------------- block state
enum class TState : std::uint8_t { Unstarted, Running, Ready, AtBarrier, AtWarp, Exited };

struct Thread {
    ThreadView view;  // what the kernel sees
    unsigned linear = 0, lane = 0, warp = 0;
    TState state = TState::Unstarted;
    ctx::fiber fiber;          // the suspended runner while this thread is blocked
    ctx::fiber* ret = nullptr; // the runner's continuation back to the scheduler
    // Warp collective operands and result.
    int op = 0, b = 0, c = 0;
    unsigned mask = 0;
    std::uint64_t value = 0, result = 0;
    // Barrier operand and result.
    int pred = 0, barrier_kind = 0, barrier_result = 0;
};

struct Warp {
    unsigned existing = 0;  // lanes that exist (a partial last warp has fewer than 32)
    unsigned waiting = 0;   // lanes blocked in a collective
    unsigned exited = 0;
};

struct Worker;

struct Block {
    Launch* L = nullptr;
    Worker* worker = nullptr;
    BlockView view{};
    unsigned n = 0;
    dim3 shape{0, 0, 0};  // blockDim the thread table was built for
    std::vector<Thread> threads;
    std::vector<Warp> warps;
    std::vector<unsigned> order;  // start order of the threads
    unsigned next_claim = 0;
    std::vector<unsigned> ready;  // runnable blocked threads; [head, size) pending
    std::size_t head = 0;
    unsigned exited = 0, at_barrier = 0, at_warp = 0;
    int yielded = -1;  // thread whose runner just switched back to the scheduler
    bool failed = false;
    bool shuffled = false;
    std::uint64_t rng = 0;
    std::string error;

    std::string where() const {
        return format("block (%u,%u,%u)", view.blockIdx.x, view.blockIdx.y, view.blockIdx.z);
    }
    std::string thread_name(const Thread& t) const {
        return format("thread (%u,%u,%u) of %s", t.view.threadIdx.x, t.view.threadIdx.y,
                      t.view.threadIdx.z, where().c_str());
    }
    void fail(std::string msg) {
        if (!failed) error = std::move(msg);
        failed = true;
    }
    void push_ready(unsigned t) {
        threads[t].state = TState::Ready;
        ready.push_back(t);
    }
    bool has_ready() const { return head < ready.size(); }
    unsigned pop_ready() {
        if (shuffled) {
            std::size_t k = head + splitmix64(rng) % (ready.size() - head);
            std::swap(ready[head], ready[k]);
        }
        unsigned t = ready[head++];
        if (head == ready.size()) {
            ready.clear();
            head = 0;
        }
        return t;
    }
};

struct Worker {
    StackPool stacks{kFiberStackBytes};
    unsigned char* dyn_shared = nullptr;
    Block block;
};

__thread Thread* tl_cur = nullptr;   // the emulated thread running on this worker
__thread Block* tl_blk = nullptr;    // its block
__thread unsigned char* tl_dyn = nullptr;

inline Thread& current_thread() {
    if (!tl_cur) throw KernelError("CUDA builtin called outside a kernel launch");
    return *tl_cur;
}

void set_current(Block& b, Thread& t) {
    tl_cur = &t;
    tl_thread = &t.view;
    t.state = TState::Running;
    (void)b;
}

// Switches from a thread's runner back to the scheduler; returns when the thread is resumed.
void block_and_yield(Block& b, Thread& t) {
    b.yielded = (int)t.linear;
    ctx::fiber& ret = *t.ret;
    ret = std::move(ret).resume();
}

// The body of a runner fiber: runs unstarted threads, one after another, as plain calls.
ctx::fiber runner_main(Block& b, ctx::fiber&& caller) {
    ctx::fiber ret = std::move(caller);
    while (!b.failed && b.next_claim < b.n) {
        Thread& t = b.threads[b.order[b.next_claim++]];
        t.ret = &ret;
        set_current(b, t);
        try {
            b.L->invoker(b.L->params);
        } catch (const ctx::detail::forced_unwind&) {
            throw;  // the scheduler is unwinding this fiber after a failure
        } catch (const std::exception& e) {
            b.fail(format("%s in %s", e.what(), b.thread_name(t).c_str()));
        } catch (...) {
            b.fail(format("unknown C++ exception in %s", b.thread_name(t).c_str()));
        }
        // tl_cur may have been changed by the scheduler while this thread was blocked.
        t.state = TState::Exited;
        b.exited++;
        b.warps[t.warp].exited |= 1u << t.lane;
    }
    b.yielded = -1;
    return ret;
}

// ----------------------------------------------------------------------- warp resolution
void resolve_warp(Block& b, unsigned warp, unsigned group, const Thread* self) {
    Thread* lanes = &b.threads[warp * 32u];
    unsigned ballot = 0, sum = 0, andv = ~0u, orv = 0, xorv = 0;
    unsigned minu = ~0u, maxu = 0;
    int mini = INT32_MAX, maxi = INT32_MIN;
    for (unsigned g = group; g; g &= g - 1) {
        const Thread& t = lanes[__builtin_ctz(g)];
        const unsigned v = (unsigned)t.value;
        if (t.value) ballot |= 1u << t.lane;
        sum += v;
        andv &= v;
        orv |= v;
        xorv ^= v;
        minu = std::min(minu, v);
        maxu = std::max(maxu, v);
        mini = std::min(mini, (int)v);
        maxi = std::max(maxi, (int)v);
    }
    for (unsigned g = group; g; g &= g - 1) {
        Thread& t = lanes[__builtin_ctz(g)];
        const int lane = (int)t.lane;
        switch (t.op) {
            case kShflIdx: case kShflUp: case kShflDown: case kShflXor: {
                // PTX shfl.sync: c = segment mask (bits 12:8) | clamp (bits 4:0).
                const int bval = t.b, cval = t.c & 0x1f, segmask = (t.c >> 8) & 0x1f;
                const int maxLane = (lane & segmask) | (cval & ~segmask);
                const int minLane = lane & segmask;
                int j;
                bool ok;
                if (t.op == kShflUp) {
                    j = lane - bval;
                    ok = j >= maxLane;
                } else if (t.op == kShflDown) {
                    j = lane + bval;
                    ok = j <= maxLane;
                } else if (t.op == kShflXor) {
                    j = lane ^ (bval & 0x1f);
                    ok = j <= maxLane;
                } else {
                    j = minLane | (bval & 0x1f & ~segmask);
                    ok = j <= maxLane;
                }
                // Out of segment: own value (as PTX). A lane outside the group (missing in a
                // partial warp, not in the mask): undefined on the GPU, own value here.
                if (!ok || j < 0 || j > 31 || !(group & (1u << j))) j = lane;
                t.result = lanes[j].value;
                break;
            }
            case kBallot: t.result = ballot; break;
            case kAny: t.result = ballot != 0; break;
            case kAll: t.result = ballot == group; break;
            case kReduceAdd: t.result = sum; break;
            case kReduceMinU: t.result = minu; break;
            case kReduceMaxU: t.result = maxu; break;
            case kReduceMinI: t.result = (unsigned)mini; break;
            case kReduceMaxI: t.result = (unsigned)maxi; break;
            case kReduceAnd: t.result = andv; break;
            case kReduceOr: t.result = orv; break;
            case kReduceXor: t.result = xorv; break;
            case kMatchAny: {
                unsigned m = 0;
                for (unsigned h = group; h; h &= h - 1)
                    if ((unsigned)lanes[__builtin_ctz(h)].value == (unsigned)t.value) m |= 1u << __builtin_ctz(h);
                t.result = m;
                break;
            }
            default: t.result = 0; break;
        }
    }
    b.warps[warp].waiting &= ~group;
    for (unsigned g = group; g; g &= g - 1) {
        Thread& t = lanes[__builtin_ctz(g)];
        b.at_warp--;
        if (&t != self) b.push_ready(t.linear);
    }
}

// Why the block can make no progress although some threads still wait.
std::string describe_stall(const Block& b) {
    if (b.at_warp > 0) {
        for (unsigned i = 0; i < b.n; ++i) {
            const Thread& t = b.threads[i];
            if (t.state != TState::AtWarp) continue;
            const Warp& w = b.warps[t.warp];
            const unsigned group = t.mask & w.existing;
            for (unsigned g = group; g; g &= g - 1) {
                const Thread& o = b.threads[t.warp * 32u + __builtin_ctz(g)];
                std::string what;
                if (o.state == TState::Exited) what = "has exited";
                else if (o.state == TState::AtBarrier) what = "waits at __syncthreads()";
                else if (o.state == TState::AtWarp && o.mask != t.mask)
                    what = format("waits in %s with mask 0x%08x", warp_op_name(o.op), o.mask);
                else continue;
                return format("warp collective deadlock: lane %u of warp %u of %s waits in %s(mask 0x%08x) "
                              "but lane %u %s",
                              t.lane, t.warp, b.where().c_str(), warp_op_name(t.op), t.mask, o.lane, what.c_str());
            }
        }
        return format("warp collective deadlock in %s (%u threads wait in warp collectives)", b.where().c_str(),
                      b.at_warp);
    }
    return format("barrier divergence: %u of %u threads of %s exited while the others wait at __syncthreads()",
                  b.exited, b.n, b.where().c_str());
}

void release_barrier(Block& b) {
    int count = 0;
    for (unsigned i = 0; i < b.n; ++i) count += b.threads[i].pred;
    for (unsigned i = 0; i < b.n; ++i) {
        Thread& t = b.threads[i];
        switch (t.barrier_kind) {
            case kBarrierCount: t.barrier_result = count; break;
            case kBarrierAnd: t.barrier_result = count == (int)b.n; break;
            case kBarrierOr: t.barrier_result = count != 0; break;
            default: t.barrier_result = 0; break;
        }
        b.push_ready(i);
    }
    b.at_barrier = 0;
}

// ---------------------------------------------------------------------------- block runner
void prepare_block(Worker& w, Launch& L, std::uint64_t linear) {
    Block& b = w.block;
    b.L = &L;
    b.worker = &w;
    const std::uint64_t gxy = (std::uint64_t)L.grid.x * L.grid.y;
    b.view.blockIdx = uint3{(unsigned)(linear % L.grid.x), (unsigned)((linear / L.grid.x) % L.grid.y),
                            (unsigned)(linear / gxy)};
    b.view.blockDim = L.block;
    b.view.gridDim = L.grid;
    const unsigned n = L.block.x * L.block.y * L.block.z;
    if (b.shape.x != L.block.x || b.shape.y != L.block.y || b.shape.z != L.block.z || b.n != n) {
        b.n = n;
        b.shape = L.block;
        if (b.threads.size() < n) b.threads.resize(n);
        for (unsigned i = 0; i < n; ++i) {
            Thread& t = b.threads[i];
            t.view.threadIdx = uint3{i % L.block.x, (i / L.block.x) % L.block.y, i / (L.block.x * L.block.y)};
            t.linear = i;
            t.lane = i % 32u;
            t.warp = i / 32u;
        }
        const unsigned nw = (n + 31u) / 32u;
        b.warps.assign(nw, Warp{});
        for (unsigned k = 0; k < nw; ++k) {
            const unsigned lanes = std::min(32u, n - k * 32u);
            b.warps[k].existing = lanes == 32u ? ~0u : (1u << lanes) - 1u;
        }
        b.order.resize(n);
    }
    for (unsigned i = 0; i < n; ++i) {
        Thread& t = b.threads[i];
        t.state = TState::Unstarted;
        t.pred = 0;
        t.barrier_kind = 0;
    }
    for (Warp& wp : b.warps) wp.waiting = wp.exited = 0;
    for (unsigned i = 0; i < n; ++i) b.order[i] = i;
    b.shuffled = L.shuffled;
    if (b.shuffled) {
        b.rng = L.seed ^ (linear * 0xd1b54a32d192ed03ull + 0x8bb84b93962eacc9ull);
        for (unsigned i = n; i > 1; --i) std::swap(b.order[i - 1], b.order[splitmix64(b.rng) % i]);
        // Stale shared data must not pass for fresh data: poison the dynamic shared memory.
        if (L.shared) std::memset(w.dyn_shared, 0xff, L.shared);
    }
    b.next_claim = 0;
    b.ready.clear();
    b.head = 0;
    b.exited = b.at_barrier = b.at_warp = 0;
    b.yielded = -1;
    b.failed = false;
    b.error.clear();
}

void after_switch(Block& b, ctx::fiber&& f) {
    if (b.yielded >= 0) {
        b.threads[(unsigned)b.yielded].fiber = std::move(f);
        b.yielded = -1;
    }
    // else: the runner finished and f is empty.
}

// Runs one block to completion; false (with b.error) on failure.
bool run_block(Worker& w, Launch& L, std::uint64_t linear) {
    Block& b = w.block;
    try {
        prepare_block(w, L, linear);
        tl_blk = &b;
        tl_block = &b.view;
        while (!b.failed) {
            // Released threads first: a warp's lanes then go through all their collectives before
            // the next warp starts, so few fibers (stacks) are live at once.
            if (b.has_ready()) {
                Thread& t = b.threads[b.pop_ready()];
                set_current(b, t);
                b.yielded = -1;
                after_switch(b, std::move(t.fiber).resume());
                continue;
            }
            if (b.next_claim < b.n) {
                b.yielded = -1;
                ctx::fiber f(std::allocator_arg, StackRef{&w.stacks},
                             [&b](ctx::fiber&& caller) { return runner_main(b, std::move(caller)); });
                after_switch(b, std::move(f).resume());
                continue;
            }
            if (b.exited == b.n) break;
            // Every thread is blocked or exited.
            if (b.at_warp == 0 && b.exited == 0 && b.at_barrier == b.n) {
                release_barrier(b);
                continue;
            }
            b.fail(describe_stall(b));
        }
    } catch (const std::exception& e) {
        b.fail(format("host emulation failure in %s: %s", b.where().c_str(), e.what()));
    }
    if (b.failed) {
        // Unwind every suspended thread (runs the destructors of its frames, frees its stack).
        for (unsigned i = 0; i < b.n; ++i) {
            if (b.threads[i].fiber) {
                try {
                    b.threads[i].fiber = ctx::fiber{};
                } catch (...) {
                }
            }
        }
    }
    tl_cur = nullptr;
    tl_thread = nullptr;
    tl_blk = nullptr;
    tl_block = nullptr;
    return !b.failed;
}

void work_on(Worker& w, Launch& L) {
    for (;;) {
        if (L.failed.load(std::memory_order_relaxed)) break;
        const std::uint64_t i = L.next_block.fetch_add(1, std::memory_order_relaxed);
        if (i >= L.nblocks) break;
        if (!run_block(w, L, i)) {
            L.fail(w.block.error);
            break;
        }
    }
    std::lock_guard<std::mutex> lk(L.m);
    if (--L.tickets_left == 0) L.done.notify_all();
}

// ---------------------------------------------------------------------------- worker pool
class Pool {
public:
    void run(Launch& L, int workers) {
        const int k = (int)std::min<std::uint64_t>((std::uint64_t)workers, L.nblocks);
        L.tickets_left = k;
        {
            std::lock_guard<std::mutex> lk(m_);
            while (threads_ < k) {
                std::thread(&Pool::main, this).detach();  // lives as long as the process
                ++threads_;
            }
            for (int i = 0; i < k; ++i) tickets_.push_back(&L);
        }
        cv_.notify_all();
        std::unique_lock<std::mutex> lk(L.m);
        L.done.wait(lk, [&] { return L.tickets_left == 0; });
    }

private:
    void main() {
        Worker* w = new Worker();  // per worker thread, never freed (the thread never ends)
        const std::size_t page = (std::size_t)sysconf(_SC_PAGESIZE);
        const std::size_t bytes = (LFK_MAX_DYNAMIC_SHARED_BYTES + page - 1) / page * page;
        void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        w->dyn_shared = m == MAP_FAILED ? nullptr : static_cast<unsigned char*>(m);
        tl_dyn = w->dyn_shared;
        for (;;) {
            Launch* L;
            {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [&] { return !tickets_.empty(); });
                L = tickets_.front();
                tickets_.pop_front();
            }
            if (!w->dyn_shared) {
                L->fail("cannot map the dynamic shared memory of a worker thread");
                std::lock_guard<std::mutex> lk(L->m);
                if (--L->tickets_left == 0) L->done.notify_all();
                continue;
            }
            work_on(*w, *L);
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Launch*> tickets_;
    int threads_ = 0;
};

Pool& pool() {
    static Pool* p = new Pool();  // never destroyed: its detached threads may outlive exit()
    return *p;
}

int default_workers() {
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : (int)std::min(hc, 256u);
}

int set_error(std::string msg) {
    tl_error = std::move(msg);
    return 1;
}

}  // namespace

// ------------------------------------------------------------------- kernel-facing runtime
Registrar::Registrar(const char* name, Invoker invoker, int arity) noexcept {
    try {
        entries().push_back(Entry{name, invoker, arity});
    } catch (...) {
        // Out of memory while loading the library: the kernel stays unknown (launch fails).
    }
}

[[noreturn]] void kernel_error(const char* what) { throw KernelError(what); }

int syncthreads(int pred, int kind) {
    Thread& t = current_thread();
    Block& b = *tl_blk;
    t.pred = pred;
    t.barrier_kind = kind;
    t.state = TState::AtBarrier;
    b.at_barrier++;
    block_and_yield(b, t);
    return t.barrier_result;
}

std::uint64_t warp_collective(int op, unsigned mask, std::uint64_t value, int bop, int cop) {
    Thread& t = current_thread();
    Block& b = *tl_blk;
    Warp& w = b.warps[t.warp];
    const unsigned bit = 1u << t.lane;
    if (!(mask & bit))
        throw KernelError(format("%s: mask 0x%08x does not name the calling lane %u", warp_op_name(op), mask, t.lane));
    t.op = op;
    t.mask = mask;
    t.value = value;
    t.b = bop;
    t.c = cop;
    t.state = TState::AtWarp;
    w.waiting |= bit;
    b.at_warp++;
    const unsigned group = mask & w.existing;
    if ((w.waiting & group) == group) {
        bool same = true;
        for (unsigned g = group; g && same; g &= g - 1) same = b.threads[t.warp * 32u + __builtin_ctz(g)].mask == mask;
        if (same) {
            // The last lane to arrive computes everyone's result. In order it goes on at once;
            // shuffled, it joins the released lanes and the schedule picks who runs next.
            resolve_warp(b, t.warp, group, b.shuffled ? nullptr : &t);
            if (!b.shuffled) {
                t.state = TState::Running;
                return t.result;
            }
        }
    }
    if (t.state == TState::AtWarp || t.state == TState::Ready) block_and_yield(b, t);
    return t.result;
}

unsigned activemask() {
    Thread& t = current_thread();
    const Warp& w = tl_blk->warps[t.warp];
    return w.existing & ~w.exited;
}

unsigned char* dynamic_shared() { return tl_dyn; }

}  // namespace rt
}  // namespace lfk

// ---------------------------------------------------------------------------------- C ABI
using namespace lfk;
using namespace lfk::rt;

extern "C" {

LFK_EXPORT int lfk_launch(const char* kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, unsigned sharedBytes, void** params) {
    try {
        if (!kernel) return set_error("lfk_launch: the kernel name is null");
        const Entry* e = find_kernel(kernel);
        if (!e)
            return set_error(format("lfk_launch(%s): unknown kernel (%d kernels are registered; is its file in "
                                    "kernels/ and does it end with LF_REGISTER_KERNEL(%s)?)",
                                    kernel, (int)sorted_entries().size(), kernel));
        auto bad = [&](const std::string& why) { return set_error(format("lfk_launch(%s): %s", kernel, why.c_str())); };
        if (gx == 0 || gy == 0 || gz == 0) return bad(format("grid (%u,%u,%u) has a zero dimension", gx, gy, gz));
        if (bx == 0 || by == 0 || bz == 0) return bad(format("block (%u,%u,%u) has a zero dimension", bx, by, bz));
        if (gx > 2147483647u) return bad(format("gridDim.x = %u exceeds 2147483647", gx));
        if (gy > 65535u) return bad(format("gridDim.y = %u exceeds 65535", gy));
        if (gz > 65535u) return bad(format("gridDim.z = %u exceeds 65535", gz));
        if (bx > 1024u) return bad(format("blockDim.x = %u exceeds 1024", bx));
        if (by > 1024u) return bad(format("blockDim.y = %u exceeds 1024", by));
        if (bz > 64u) return bad(format("blockDim.z = %u exceeds 64", bz));
        const unsigned long long nt = (unsigned long long)bx * by * bz;
        if (nt > 1024u) return bad(format("block (%u,%u,%u) has %llu threads; the limit is 1024", bx, by, bz, nt));
        if (sharedBytes > LFK_MAX_DYNAMIC_SHARED_BYTES)
            return bad(format("%u bytes of dynamic shared memory exceed the limit of %u bytes (227 KiB)", sharedBytes,
                              LFK_MAX_DYNAMIC_SHARED_BYTES));
        if (e->arity > 0 && !params) return bad(format("params is null but the kernel takes %d parameters", e->arity));

        Launch L;
        L.name = e->name;
        L.invoker = e->invoker;
        L.grid = dim3(gx, gy, gz);
        L.block = dim3(bx, by, bz);
        L.shared = sharedBytes;
        L.params = params;
        L.shuffled = tl_settings.shuffled;
        L.seed = tl_settings.seed;
        L.nblocks = (std::uint64_t)gx * gy * gz;
        const int workers = tl_settings.workers > 0 ? tl_settings.workers : default_workers();
        pool().run(L, workers);
        if (L.failed.load()) return bad(L.error);
        tl_error.clear();
        return 0;
    } catch (const std::exception& ex) {
        return set_error(format("lfk_launch(%s): host emulation failure: %s", kernel ? kernel : "?", ex.what()));
    } catch (...) {
        return set_error(format("lfk_launch(%s): host emulation failure", kernel ? kernel : "?"));
    }
}

LFK_EXPORT const char* lfk_last_error(void) { return tl_error.c_str(); }

LFK_EXPORT void lfk_set_schedule(int shuffled, unsigned long long seed) {
    tl_settings.shuffled = shuffled != 0;
    tl_settings.seed = seed;
}

LFK_EXPORT int lfk_set_workers(int n) {
    if (n < 0 || n > 256) {
        set_error(format("lfk_set_workers(%d): the worker count must be 0 (hardware concurrency) or 1..256", n));
        return 1;
    }
    tl_settings.workers = n;
    return 0;
}

LFK_EXPORT int lfk_kernel_count(void) { return (int)sorted_entries().size(); }

LFK_EXPORT const char* lfk_kernel_name(int i) {
    const auto& s = sorted_entries();
    return (i >= 0 && (std::size_t)i < s.size()) ? s[(std::size_t)i].name : nullptr;
}

}  // extern "C"
