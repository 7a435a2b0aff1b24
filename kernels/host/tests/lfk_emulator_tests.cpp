// Native tests of the host emulation: the kernels of kernels/emulator_selftest.cu and the
// test-only kernels of lfk_test_kernels.cpp, launched through the C ABI and compared with
// plain C++ computations.
#include "lfk_api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Schedule {  // restores in-order, all workers, when a test ends
    Schedule(bool shuffled, unsigned long long seed, int workers = 0) {
        lfk_set_schedule(shuffled, seed);
        lfk_set_workers(workers);
    }
    ~Schedule() {
        lfk_set_schedule(0, 0);
        lfk_set_workers(0);
    }
};

struct Dim {
    unsigned x, y = 1, z = 1;
    Dim(unsigned vx, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

// Launches with the argument values given: builds cuLaunchKernel's params array
// (params[i] points at the value of argument i).
template <class... T>
int launch(const char* k, Dim g, Dim b, unsigned shared, T... args) {
    std::tuple<T...> values{args...};
    std::array<void*, sizeof...(T)> p =
        std::apply([](auto&... e) { return std::array<void*, sizeof...(T)>{(void*)&e...}; }, values);
    return lfk_launch(k, g.x, g.y, g.z, b.x, b.y, b.z, shared, sizeof...(T) ? p.data() : nullptr);
}

template <class... T>
void expect_launch(const char* k, Dim g, Dim b, unsigned shared, T... args) {
    ASSERT_EQ(0, launch(k, g, b, shared, args...)) << lfk_last_error();
}

template <class... T>
std::string expect_failure(const char* k, Dim g, Dim b, T... args) {
    EXPECT_NE(0, launch(k, g, b, 0, args...));
    return lfk_last_error();
}

std::vector<float> integer_floats(int n, unsigned seed, int lo = -50, int hi = 50) {
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<float> v(n);
    for (auto& e : v) e = (float)d(g);
    return v;
}

TEST(Registry, ListsSelfTestKernelsSortedByName) {
    const int n = lfk_kernel_count();
    ASSERT_GT(n, 0);
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.emplace_back(lfk_kernel_name(i));
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
    for (const char* k : {"selftest_block_sum", "selftest_warp_sum", "selftest_warp_shuffles", "selftest_ballot",
                          "selftest_atomics", "selftest_dynamic_shared", "selftest_indices",
                          "selftest_race_neighbor_sum", "selftest_diverged_barrier"})
        EXPECT_NE(names.end(), std::find(names.begin(), names.end(), k)) << k;
    EXPECT_EQ(nullptr, lfk_kernel_name(-1));
    EXPECT_EQ(nullptr, lfk_kernel_name(n));
}

TEST(BlockSum, MatchesSerialSumInOrderAndShuffled) {
    for (int shuffled = 0; shuffled < 2; ++shuffled) {
        for (unsigned B : {32u, 256u, 1024u}) {
            Schedule s(shuffled, 7);
            int n = 10000;
            auto x = integer_floats(n, 1);
            const unsigned grid = (n + B - 1) / B;
            std::vector<float> sums(grid, -1.0f);
            expect_launch("selftest_block_sum", grid, B, 0, x.data(), sums.data(), n);
            for (unsigned b = 0; b < grid; ++b) {
                float want = 0;
                for (unsigned t = 0; t < B && b * B + t < (unsigned)n; ++t) want += x[b * B + t];
                ASSERT_EQ(want, sums[b]) << "block " << b << " B " << B << " shuffled " << shuffled;
            }
        }
    }
}

TEST(WarpSum, ButterflyGivesEveryWarpsTotal) {
    int n = 64 * 96;
    auto x = integer_floats(n, 2);
    std::vector<float> sums(n / 32);
    expect_launch("selftest_warp_sum", n / 96, 96, 0, x.data(), sums.data(), n);
    for (int w = 0; w < n / 32; ++w) {
        float want = 0;
        for (int l = 0; l < 32; ++l) want += x[w * 32 + l];
        ASSERT_EQ(want, sums[w]) << w;
    }
}

TEST(WarpShuffles, FollowPtxSemanticsIncludingWidth) {
    Schedule s(true, 3);
    int n = 4 * 64;
    std::vector<int> x(n);
    for (int i = 0; i < n; ++i) x[i] = (i * 37) % 101 - 50;
    std::vector<int> out(5 * n);
    std::vector<double> outD(n);
    expect_launch("selftest_warp_shuffles", 4, 64, 0, x.data(), out.data(), outD.data(), n);
    for (int i = 0; i < n; ++i) {
        const int l = i % 32, w0 = i - l;
        int scan = 0;
        for (int k = 0; k <= l; ++k) scan += x[w0 + k];
        int seg = 0;
        for (int k = 0; k < 8; ++k) seg += x[w0 + (l & ~7) + k];
        const int gathered = x[w0 + (3 * l + 5) % 32];
        const int down16 = (l % 16) + 5 < 16 ? x[i + 5] : x[i];
        const int bcast8 = x[w0 + (l & ~7) + 2];
        const double dv = l == 0 ? x[i] + 0.25 : x[i - 1] + 0.25;
        ASSERT_EQ(scan, out[5 * i + 0]) << i;
        ASSERT_EQ(seg, out[5 * i + 1]) << i;
        ASSERT_EQ(gathered, out[5 * i + 2]) << i;
        ASSERT_EQ(down16, out[5 * i + 3]) << i;
        ASSERT_EQ(bcast8, out[5 * i + 4]) << i;
        ASSERT_EQ(dv, outD[i]) << i;
    }
}

TEST(Ballot, PartialWarpOfFortyThreads) {
    const unsigned B = 40, G = 3;
    int n = B * G;
    std::vector<int> pred(n);
    for (int i = 0; i < n; ++i) pred[i] = (i % 3 == 0) || (i % 40 >= 32);  // 2nd warp of a block: all true
    std::vector<unsigned> ballot(n), active(n);
    std::vector<int> anyAll(2 * n), count(G);
    expect_launch("selftest_ballot", G, B, 0, pred.data(), ballot.data(), anyAll.data(), active.data(), count.data(), n);
    for (unsigned b = 0; b < G; ++b) {
        int c = 0;
        for (unsigned t = 0; t < B; ++t) c += pred[b * B + t];
        EXPECT_EQ(c, count[b]);
        for (unsigned t = 0; t < B; ++t) {
            const unsigned i = b * B + t, base = t & ~31u, lanes = std::min(32u, B - base);
            unsigned want = 0;
            for (unsigned k = 0; k < lanes; ++k)
                if (pred[b * B + base + k]) want |= 1u << k;
            const unsigned mask = lanes == 32 ? ~0u : (1u << lanes) - 1;
            ASSERT_EQ(want, ballot[i]) << i;
            ASSERT_EQ(want != 0, anyAll[2 * i]) << i;
            ASSERT_EQ(want == mask, anyAll[2 * i + 1]) << i;
            ASSERT_EQ(mask, active[i]) << i;
        }
    }
}

TEST(Atomics, ManyBlocksOnManyWorkers) {
    Schedule s(false, 0, 8);
    int n = 200 * 128 - 17;
    std::vector<int> x(n);
    for (int i = 0; i < n; ++i) x[i] = (i * 7919) % 1000;
    int accI = 0, extrema[2] = {INT32_MIN, INT32_MAX}, exchSlot = -1;
    unsigned long long accU = 0, exchSum = 0;
    float accF = 0;
    double accD = 0;
    unsigned cas = 0;
    expect_launch("selftest_atomics", 200, 128, 0,
                  x.data(), n, &accI, &accU, &accF, &accD, extrema, &cas, &exchSlot, &exchSum);
    const long long sum = std::accumulate(x.begin(), x.end(), 0LL);
    EXPECT_EQ(sum, accI);
    EXPECT_EQ((unsigned long long)sum, accU);
    EXPECT_EQ((float)sum, accF);
    EXPECT_EQ((double)sum, accD);
    EXPECT_EQ(*std::max_element(x.begin(), x.end()), extrema[0]);
    EXPECT_EQ(*std::min_element(x.begin(), x.end()), extrema[1]);
    EXPECT_EQ((unsigned)n, cas);
    ASSERT_GE(exchSlot, 0);
    ASSERT_LT(exchSlot, n);
    EXPECT_EQ((unsigned long long)n * (n + 1) / 2, exchSum + exchSlot + 1);
}

TEST(DynamicShared, TileReversalAtSeveralSizes) {
    for (unsigned B : {64u, 1024u}) {
        int n = (int)B * 5 - 3;
        auto x = integer_floats(n, 4);
        std::vector<float> y(n);
        expect_launch("selftest_dynamic_shared", 5, B, 2 * B * 4, x.data(), y.data(), n);
        for (int i = 0; i < n; ++i) {
            const unsigned b = i / B, t = i % B;
            auto X = [&](unsigned k) { return b * B + k < (unsigned)n ? x[b * B + k] : 0.0f; };
            ASSERT_EQ(X(B - 1 - t) + 2 * X((t + 1) % B), y[i]) << i;
        }
    }
}

TEST(Indices, ThreeDimensionalGridAndBlock) {
    const unsigned gx = 3, gy = 2, gz = 4, bx = 5, by = 3, bz = 2;
    std::vector<unsigned> out(12 * gx * gy * gz * bx * by * bz, 0xdeadbeef);
    ASSERT_EQ(0, launch("selftest_indices", Dim(gx, gy, gz), Dim(bx, by, bz), 0, out.data())) << lfk_last_error();
    size_t k = 0;
    for (unsigned z = 0; z < gz; ++z)
        for (unsigned y = 0; y < gy; ++y)
            for (unsigned x = 0; x < gx; ++x)
                for (unsigned tz = 0; tz < bz; ++tz)
                    for (unsigned ty = 0; ty < by; ++ty)
                        for (unsigned tx = 0; tx < bx; ++tx, k += 12) {
                            const unsigned want[12] = {tx, ty, tz, x, y, z, bx, by, bz, gx, gy, gz};
                            for (int j = 0; j < 12; ++j) ASSERT_EQ(want[j], out[k + j]) << k << " " << j;
                        }
}

TEST(Race, MissingBarrierIsCaughtOnlyByTheShuffledSchedule) {
    int n = 4 * 256;
    auto x = integer_floats(n, 5, 1, 9);
    auto run = [&](bool shuffled, unsigned long long seed) {
        Schedule s(shuffled, seed);
        std::vector<float> y(n);
        EXPECT_EQ(0, launch("selftest_race_neighbor_sum", 4, 256, 0, x.data(), y.data(), n));
        int wrong = 0;
        for (int i = 0; i < n; ++i) wrong += y[i] != x[i] + (i % 256 ? x[i - 1] : 0.0f);
        return wrong;
    };
    EXPECT_EQ(0, run(false, 0));
    for (unsigned long long seed : {1ull, 2ull, 12345ull}) EXPECT_GT(run(true, seed), 0) << seed;
}

TEST(Errors, DivergedBarrierIsReportedAndTheNextLaunchWorks) {
    std::vector<float> y(4 * 64);
    int exitFrom = 33;
    const std::string msg = expect_failure("selftest_diverged_barrier", 4, 64, y.data(), exitFrom);
    EXPECT_NE(std::string::npos, msg.find("lfk_launch(selftest_diverged_barrier): barrier divergence: 31 of 64 threads of block (")) << msg;
    EXPECT_NE(std::string::npos, msg.find("exited while the others wait at __syncthreads()")) << msg;
    exitFrom = 64;
    expect_launch("selftest_diverged_barrier", 4, 64, 0, y.data(), exitFrom);
    for (int i = 0; i < 4 * 64; ++i) ASSERT_EQ((float)(i % 64 + 1), y[i]);
}

TEST(Errors, BadLaunchConfigurationsNameTheProblem) {
    int n = 0;
    float f = 0;
    std::vector<void*> a{&f, &f, &n};
    struct Case { unsigned g[3], b[3], shared; const char* expect; };
    const Case cases[] = {
        {{0, 1, 1}, {32, 1, 1}, 0, "grid (0,1,1) has a zero dimension"},
        {{1, 1, 1}, {32, 0, 1}, 0, "block (32,0,1) has a zero dimension"},
        {{1, 1, 1}, {1025, 1, 1}, 0, "blockDim.x = 1025 exceeds 1024"},
        {{1, 1, 1}, {32, 32, 2}, 0, "has 2048 threads; the limit is 1024"},
        {{1, 1, 1}, {1, 1, 65}, 0, "blockDim.z = 65 exceeds 64"},
        {{1, 65536, 1}, {32, 1, 1}, 0, "gridDim.y = 65536 exceeds 65535"},
        {{1, 1, 70000}, {32, 1, 1}, 0, "gridDim.z = 70000 exceeds 65535"},
        {{1, 1, 1}, {32, 1, 1}, 300000, "300000 bytes of dynamic shared memory exceed the limit"},
    };
    for (const Case& c : cases) {
        EXPECT_NE(0, lfk_launch("selftest_block_sum", c.g[0], c.g[1], c.g[2], c.b[0], c.b[1], c.b[2], c.shared, a.data()));
        const std::string m = lfk_last_error();
        EXPECT_NE(std::string::npos, m.find("lfk_launch(selftest_block_sum): ")) << m;
        EXPECT_NE(std::string::npos, m.find(c.expect)) << m;
    }
    EXPECT_NE(0, lfk_launch("selftest_block_sum", 1, 1, 1, 32, 1, 1, 0, nullptr));
    EXPECT_NE(std::string::npos, std::string(lfk_last_error()).find("params is null but the kernel takes 3 parameters"));
    EXPECT_NE(0, lfk_set_workers(-1));
    EXPECT_NE(0, lfk_set_workers(257));
}

TEST(Errors, UnknownKernel) {
    EXPECT_NE(0, lfk_launch("no_such_kernel", 1, 1, 1, 1, 1, 1, 0, nullptr));
    EXPECT_NE(std::string::npos, std::string(lfk_last_error()).find("lfk_launch(no_such_kernel): unknown kernel"));
    EXPECT_NE(0, lfk_launch(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr));
}

TEST(Errors, ExceptionInAKernelIsReportedWithTheThread) {
    std::vector<int> out(4 * 64);
    const std::string msg = expect_failure("test_throw", 4, 64, out.data());
    EXPECT_NE(std::string::npos, msg.find("boom in thread (5,0,0) of block (1,0,0)")) << msg;
    std::vector<float> y(64);
    int exitFrom = 64;
    expect_launch("selftest_diverged_barrier", 1, 64, 0, y.data(), exitFrom);
}

TEST(Errors, FailedDeviceAssertFailsTheLaunch) {
    std::vector<int> x{0, 1, 2, -3, 4, 5, 6, 7};
    const std::string msg = expect_failure("test_assert", 1, 8, x.data());
    EXPECT_NE(std::string::npos, msg.find("lfk_launch(test_assert): assert(x[threadIdx.x] >= 0) failed at ")) << msg;
    EXPECT_NE(std::string::npos, msg.find("in thread (3,0,0) of block (0,0,0)")) << msg;
}

TEST(Errors, WarpCollectiveMisuse) {
    std::vector<int> out(64);
    std::string m = expect_failure("test_mask_without_self", 1, 32, out.data());
    EXPECT_NE(std::string::npos, m.find("__shfl_sync: mask 0x00000001 does not name the calling lane 1")) << m;
    m = expect_failure("test_warp_exited_lane", 1, 32, out.data());
    EXPECT_NE(std::string::npos, m.find("warp collective deadlock: lane 0 of warp 0 of block (0,0,0) waits in "
                                        "__shfl_down_sync(mask 0xffffffff) but lane 16 has exited")) << m;
    m = expect_failure("test_warp_vs_barrier", 1, 32, out.data());
    EXPECT_NE(std::string::npos, m.find("but lane 0 waits at __syncthreads()")) << m;
}

TEST(SharedMemory, StaticSharedIsPerBlockUnderConcurrency) {
    Schedule s(true, 9, 4);
    std::vector<int> bad(64, 0);
    int rounds = 20;
    expect_launch("test_shared_isolation", 64, 256, 0, bad.data(), rounds);
    for (int b = 0; b < 64; ++b) EXPECT_EQ(0, bad[b]) << b;
}

TEST(Collectives, BlockVotesAndWarpReductions) {
    const int B = 64, G = 2, n = B * G;
    std::vector<int> x(n), out(8 * n);
    for (int i = 0; i < n; ++i) x[i] = (i * 13) % 29 - 9;
    expect_launch("test_block_votes_and_reductions", G, B, 0, x.data(), out.data());
    for (int i = 0; i < n; ++i) {
        const int b = i / B, w0 = i - i % 32;
        int c = 0, a = 1, o = 0;
        for (int t = 0; t < B; ++t) {
            c += x[b * B + t] > 0;
            a &= x[b * B + t] > -100;
            o |= x[b * B + t] > 1000;
        }
        int sum = 0, mn = INT32_MAX, mx = INT32_MIN;
        unsigned xr = 0, match = 0;
        for (int l = 0; l < 32; ++l) {
            const int v = x[w0 + l];
            sum += v, mn = std::min(mn, v), mx = std::max(mx, v), xr ^= (unsigned)v;
            if ((v & 3) == (x[i] & 3)) match |= 1u << l;
        }
        const int want[8] = {c, a, o, sum, mn, mx, (int)xr, (int)match};
        for (int j = 0; j < 8; ++j) ASSERT_EQ(want[j], out[8 * i + j]) << i << " " << j;
    }
}

TEST(Stacks, SixtyFourKiBOfLocalsAcrossABarrier) {
    std::vector<float> out(2 * 128);
    expect_launch("test_big_stack", 2, 128, 0, out.data());
    for (int i = 0; i < 256; ++i) {
        float s = 0;
        for (int k = 0; k < 16384; k += 1024) s += (float)(k + i % 128);
        ASSERT_EQ(s, out[i]);
    }
}

TEST(Schedule, SettingsBelongToTheCallingThread) {
    lfk_set_schedule(1, 42);
    int n = 256;
    auto x = integer_floats(n, 6, 1, 9);
    std::vector<float> y(n);
    std::thread other([&] {  // a fresh thread runs in order: the race stays hidden there
        EXPECT_EQ(0, launch("selftest_race_neighbor_sum", 1, 256, 0, x.data(), y.data(), n));
    });
    other.join();
    lfk_set_schedule(0, 0);
    for (int i = 0; i < n; ++i) ASSERT_EQ(x[i] + (i ? x[i - 1] : 0.0f), y[i]) << i;
}

TEST(Performance, FiberSwitchesAndPlainLoops) {
    // Not a benchmark: guards against pathological slowness (e.g. a stack allocation per fiber).
    std::vector<float> out(64 * 256);
    int iters = 20;
    auto t0 = std::chrono::steady_clock::now();
    expect_launch("test_barrier_loop", 64, 256, 0, out.data(), iters);
    const double barrierSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double switches = 64.0 * 256 * iters * 2 * 2;
    t0 = std::chrono::steady_clock::now();
    expect_launch("test_warp_loop", 64, 256, 0, out.data(), iters);
    const double warpSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double shuffles = 64.0 * 256 * iters * 5;
    int n = 1 << 22;
    std::vector<float> x(n, 1.0f), y(n, 2.0f);
    float a = 3.0f;
    t0 = std::chrono::steady_clock::now();
    expect_launch("test_axpy", (n + 255) / 256, 256, 0, x.data(), y.data(), a, n);
    const double axpySec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(5.0f, y[n - 1]);
    std::printf("barrier loop: %.1f ns per switch; warp loop: %.1f ns per lane-shuffle; axpy: %.1f ns per thread\n",
                barrierSec / switches * 1e9, warpSec / shuffles * 1e9, axpySec / n * 1e9);
    EXPECT_LT(warpSec / shuffles, 2e-6);
    EXPECT_LT(barrierSec / switches, 2e-6);
    EXPECT_LT(axpySec / n, 1e-6);
}

}  // namespace
