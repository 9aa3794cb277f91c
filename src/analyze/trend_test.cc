#include "analyze/trend.h"

#include <gtest/gtest.h>

#include "base/age_buckets.h"

#include <cmath>
#include <map>
#include <random>
#include <vector>

namespace heapscope::analyze {
namespace {

std::vector<double> Times(size_t n) {
  std::vector<double> t(n);
  for (size_t i = 0; i < n; i++) t[i] = static_cast<double>(i);
  return t;
}

TEST(MannKendallTest, KnownSeries) {
  // Strictly increasing, n = 10: S = 45, Var = 10*9*25/18 = 125.
  std::vector<double> up = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  MannKendall mk = MannKendallTest(up);
  EXPECT_EQ(mk.s, 45);
  EXPECT_DOUBLE_EQ(mk.variance, 125);
  EXPECT_NEAR(mk.z, 44 / std::sqrt(125.0), 1e-12);
  EXPECT_LT(mk.p_value, 1e-4);
  // A textbook example with ties: {1, 2, 2, 3}: S = 1+1+1+0+1+1 = 5;
  // Var = (4*3*13 - 2*1*9) / 18 = 138/18.
  std::vector<double> ties = {1, 2, 2, 3};
  mk = MannKendallTest(ties);
  EXPECT_EQ(mk.s, 5);
  EXPECT_NEAR(mk.variance, 138.0 / 18, 1e-12);
  EXPECT_NEAR(mk.z, 4 / std::sqrt(138.0 / 18), 1e-12);
  // Decreasing: symmetric.
  std::vector<double> down = {5, 4, 3, 2, 1};
  mk = MannKendallTest(down);
  EXPECT_EQ(mk.s, -10);
  EXPECT_LT(mk.z, 0);
  // All equal: no variance, p = 1.
  std::vector<double> flat(8, 3.0);
  mk = MannKendallTest(flat);
  EXPECT_EQ(mk.s, 0);
  EXPECT_EQ(mk.variance, 0);
  EXPECT_EQ(mk.p_value, 1);
}

TEST(MannKendallTest, NormalP) {
  EXPECT_NEAR(NormalTwoSidedP(1.959963985), 0.05, 1e-6);
  EXPECT_NEAR(NormalTwoSidedP(-2.575829304), 0.01, 1e-6);
  EXPECT_NEAR(NormalTwoSidedP(0), 1, 1e-12);
}

TEST(TheilSenSlopeTest, KnownSlopes) {
  auto t = Times(10);
  std::vector<double> y;
  for (double x : t) y.push_back(3 * x + 7);
  EXPECT_DOUBLE_EQ(TheilSenSlope(t, y), 3);
  // One wild outlier does not move the median slope.
  y[5] = 1e9;
  EXPECT_NEAR(TheilSenSlope(t, y), 3, 1e-9);
  // Irregular times.
  std::vector<double> t2 = {0, 0.5, 2, 2.5, 7};
  std::vector<double> y2;
  for (double x : t2) y2.push_back(-2 * x);
  EXPECT_DOUBLE_EQ(TheilSenSlope(t2, y2), -2);
  // Even number of slopes: the mean of the two middle ones.
  std::vector<double> t3 = {0, 1, 2};
  std::vector<double> y3 = {0, 1, 4};  // slopes 1, 2, 3 -> 2
  EXPECT_DOUBLE_EQ(TheilSenSlope(t3, y3), 2);
  std::vector<double> t4 = {0, 1};
  std::vector<double> y4 = {0, 5};
  EXPECT_DOUBLE_EQ(TheilSenSlope(t4, y4), 5);
}

constexpr double kRate = 524288;
constexpr double kMB = 1 << 20;

// In-use estimates the way the runtime makes them: each object of `size`
// bytes is sampled with probability 1 - exp(-size/R) and counts size/p.
class Sampler {
 public:
  explicit Sampler(uint32_t seed) : rng_(seed) {}
  // The estimate of `count` objects of `size` bytes, sampled afresh (all
  // different objects: churn).
  double Fresh(double bytes, double size = 1024) {
    double p = 1 - std::exp(-size / kRate);
    std::binomial_distribution<long> b(static_cast<long>(bytes / size), p);
    return static_cast<double>(b(rng_)) * size / p;
  }
  std::mt19937 rng_;
};

TrendOptions Options() {
  TrendOptions o;
  o.rate = kRate;
  return o;
}

TEST(ClassifyTrendTest, LinearGrowthWithSamplingNoiseIsGrowing) {
  // A leak of 1 MB/s over 20 snapshots: what stays stays (cumulative
  // sampling), plus a churning 8 MB on the same stack whose estimate
  // scatters by 2 MB. A few draws honestly look like a levelling off (the
  // last third flat); at most 2 of 50 may be called something else, and
  // never shrinking or constant.
  int growing = 0;
  for (uint32_t seed = 1; seed <= 50; seed++) {
    Sampler s(seed);
    auto t = Times(20);
    std::vector<double> y;
    double leaked = 0;
    for (size_t i = 0; i < t.size(); i++) {
      leaked += s.Fresh(1 * kMB);
      y.push_back(leaked + s.Fresh(8 * kMB));
    }
    Trend tr = ClassifyTrend(t, y, Options());
    if (tr.verdict == Verdict::kGrowing) {
      growing++;
      EXPECT_GT(tr.confidence, 0.99);
      EXPECT_NEAR(tr.slope, kMB, 0.6 * kMB);
    } else {
      EXPECT_EQ(tr.verdict, Verdict::kPlateau) << "seed " << seed;
    }
  }
  EXPECT_GE(growing, 48);
}

TEST(ClassifyTrendTest, YoungBoundedCacheIsNotGrowing) {
  // A live watch started with the program: an 8 MB LRU fills in 3 s, then
  // churns (its estimate scatters by 2 MB); 18 snapshots 0.5 s apart. The
  // first third rises steeply, the rest is flat: at most 2 of 50 draws may
  // pass for growing.
  int growing = 0;
  for (uint32_t seed = 1; seed <= 50; seed++) {
    Sampler s(seed);
    std::vector<double> t, y;
    for (int i = 0; i < 18; i++) {
      t.push_back(0.5 * i);
      y.push_back(s.Fresh(std::min(0.5 * i / 3.0, 1.0) * 8 * kMB + 1024));
    }
    if (ClassifyTrend(t, y, Options()).verdict == Verdict::kGrowing) growing++;
  }
  EXPECT_LE(growing, 2);
}

TEST(ClassifyTrendTest, ExactLinearGrowth) {
  auto t = Times(10);
  std::vector<double> y;
  for (double x : t) y.push_back(1000 + 100 * x);
  TrendOptions o = Options();
  o.rate = 1;
  Trend tr = ClassifyTrend(t, y, o);
  EXPECT_EQ(tr.verdict, Verdict::kGrowing);
  EXPECT_DOUBLE_EQ(tr.slope, 100);
}

TEST(ClassifyTrendTest, RiseThenFlatIsPlateau) {
  int plateau = 0;
  for (uint32_t seed = 1; seed <= 50; seed++) {
    Sampler s(seed);
    auto t = Times(20);
    std::vector<double> y;
    for (size_t i = 0; i < t.size(); i++) {
      double level = std::min<double>(static_cast<double>(i + 1), 4) * 4 * kMB;  // 16 MB by 4 s.
      y.push_back(s.Fresh(level));
    }
    Trend tr = ClassifyTrend(t, y, Options());
    EXPECT_NE(tr.verdict, Verdict::kGrowing) << "seed " << seed;
    plateau += tr.verdict == Verdict::kPlateau;
  }
  EXPECT_GE(plateau, 45);
  // Exact, no noise.
  std::vector<double> t = Times(12), y = {0, 100, 200, 300, 400, 400, 400, 400, 400, 400, 400, 400};
  TrendOptions o = Options();
  o.rate = 1;
  EXPECT_EQ(ClassifyTrend(t, y, o).verdict, Verdict::kPlateau);
  // Rose for most of the window, flat in the last third: still a plateau.
  y = {0, 100, 200, 300, 400, 500, 600, 700, 800, 800, 800, 800};
  EXPECT_EQ(ClassifyTrend(t, y, o).verdict, Verdict::kPlateau);
}

TEST(ClassifyTrendTest, SpikeIsTransient) {
  for (uint32_t seed = 1; seed <= 50; seed++) {
    Sampler s(seed);
    auto t = Times(20);
    std::vector<double> y;
    for (size_t i = 0; i < t.size(); i++) {
      double level = (i == 8 || i == 9) ? 40 * kMB : 1 * kMB;
      y.push_back(s.Fresh(level));
    }
    EXPECT_EQ(ClassifyTrend(t, y, Options()).verdict, Verdict::kTransient) << "seed " << seed;
  }
  // Periodic bursts that end inside one: still transient, not growing.
  std::vector<double> t = Times(20), y;
  for (size_t i = 0; i < 20; i++) y.push_back(i % 5 >= 3 ? 40 * kMB : 0);
  EXPECT_EQ(ClassifyTrend(t, y, Options()).verdict, Verdict::kTransient);
}

TEST(ClassifyTrendTest, LeakUnderTemporaryPeaksIsGrowing) {
  // One stack leaks 1 MB/s and also makes 40 MB bursts freed two snapshots
  // later (or a whole process with a leak and bursts): the series rises and
  // falls back, yet the points between the peaks keep rising. 200 seeds.
  int growing = 0, under_peaks = 0;
  for (uint32_t seed = 1; seed <= 200; seed++) {
    Sampler s(seed);
    auto t = Times(20);
    std::vector<double> y;
    double leaked = 0;
    for (size_t i = 0; i < t.size(); i++) {
      leaked += s.Fresh(1 * kMB);
      y.push_back(leaked + (i % 6 == 3 || i % 6 == 4 ? s.Fresh(40 * kMB) : 0));
    }
    Trend tr = ClassifyTrend(t, y, Options());
    if (tr.verdict == Verdict::kGrowing) {
      growing++;
      under_peaks += tr.under_peaks;
      EXPECT_NEAR(tr.slope, kMB, 0.5 * kMB) << "seed " << seed;
    } else {
      EXPECT_EQ(tr.verdict, Verdict::kTransient) << "seed " << seed;
    }
  }
  EXPECT_GE(growing, 190) << under_peaks << " under peaks";
  printf("leak under peaks: growing %d of 200, %d of them under peaks\n", growing, under_peaks);
}

TEST(ClassifyTrendTest, PeaksNeverMakeGrowth) {
  // Bursts over a steady churning level, and over a cache that filled in
  // the first quarter. Over the flat level: never growing (500 seeds).
  // Over the cache, without ages (the runtime's profiles carry them, and
  // they rule such caches out): never growing where the same series
  // without the bursts is not.
  for (int shape = 0; shape < 2; shape++) {
    int growing = 0, growing_without = 0;
    for (uint32_t seed = 1; seed <= 500; seed++) {
      Sampler s(seed * 13 + static_cast<uint32_t>(shape)), bursts(seed * 7 + 1);
      auto t = Times(20);
      std::vector<double> y, without;
      for (size_t i = 0; i < t.size(); i++) {
        double base = shape == 0 ? 8 * kMB : std::min(static_cast<double>(i), 5.0) * 2 * kMB;
        without.push_back(s.Fresh(base));
        y.push_back(without.back() + (i % 5 == 2 ? bursts.Fresh(40 * kMB) : 0));
      }
      bool g = ClassifyTrend(t, y, Options()).verdict == Verdict::kGrowing;
      bool g0 = ClassifyTrend(t, without, Options()).verdict == Verdict::kGrowing;
      growing += g;
      growing_without += g0;
    }
    printf("shape %d: growing %d with bursts, %d without, of 500\n", shape, growing,
           growing_without);
    if (shape == 0) {
      EXPECT_EQ(growing, 0);
    }
    EXPECT_LE(growing, growing_without) << "shape " << shape;
  }
}

TEST(ClassifyTrendTest, FlatIsConstant) {
  std::vector<double> t = Times(20), y(20, 30 * kMB);
  EXPECT_EQ(ClassifyTrend(t, y, Options()).verdict, Verdict::kConstant);
  // A table built at start, sampled once and kept: unchanged estimates.
  Sampler s(7);
  double table = s.Fresh(30 * kMB);
  std::vector<double> y2(20, table);
  EXPECT_EQ(ClassifyTrend(t, y2, Options()).verdict, Verdict::kConstant);
}

TEST(ClassifyTrendTest, DecreasingIsShrinking) {
  std::vector<double> t = Times(20), y;
  for (size_t i = 0; i < 20; i++) y.push_back((40 - 2.0 * static_cast<double>(i)) * kMB);
  EXPECT_EQ(ClassifyTrend(t, y, Options()).verdict, Verdict::kShrinking);
}

TEST(ClassifyTrendTest, NoisyFlatAtRuntimeNoiseIsNotGrowing) {
  // Churning stacks at several levels, each snapshot a fresh sample: the
  // estimates scatter by sqrt(level * rate). None may be called growing.
  int growing = 0, total = 0;
  for (double level : {1.0, 4.0, 16.0, 64.0}) {
    for (uint32_t seed = 1; seed <= 500; seed++) {
      Sampler s(seed * 31 + static_cast<uint32_t>(level));
      auto t = Times(20);
      std::vector<double> y;
      for (size_t i = 0; i < t.size(); i++) y.push_back(s.Fresh(level * kMB));
      growing += ClassifyTrend(t, y, Options()).verdict == Verdict::kGrowing;
      total++;
    }
  }
  EXPECT_EQ(growing, 0) << "of " << total;
}

TEST(ClassifyTrendTest, LateOneTimeAllocationIsNotGrowing) {
  // One sample appearing at 15 s of 20 is a significant Mann-Kendall step
  // but far within the noise of a 512 KiB sample.
  std::vector<double> t = Times(20), y(20, 0);
  for (size_t i = 15; i < 20; i++) y[i] = kRate;
  EXPECT_NE(ClassifyTrend(t, y, Options()).verdict, Verdict::kGrowing);
}

TEST(ClassifyTrendTest, GrowthFloorIsWhereSampledLeaksStartToShow) {
  // 30 s, a snapshot every 2 s, a leak of 1 KiB objects on a stack of its
  // own at the default rate: the floor is 9 * 512 KiB / 30 s = 154 KiB/s.
  // Half the floor is about 4.5 samples over the window and is almost never
  // called growing (that needs 10: P(Poisson(4.5) >= 10) = 1.7%); twice the
  // floor (18 samples expected) almost always is. Fixed seeds, 200 draws
  // each; found at x0.25/0.5/1/1.5/2/3 the floor: 0, 5, 65, 155, 186, 200.
  TrendOptions o = Options();
  const double floor = GrowthFloorPerSec(o, 30);
  EXPECT_DOUBLE_EQ(floor, 9 * kRate / 30);
  auto found = [&](double growth) {
    int growing = 0;
    for (uint32_t seed = 1; seed <= 200; seed++) {
      Sampler s(seed * 7919);
      std::vector<double> t, y;
      double leaked = 0;
      for (int i = 0; i <= 15; i++) {
        if (i > 0) leaked += s.Fresh(growth * 2);
        t.push_back(2.0 * i);
        y.push_back(leaked);
      }
      growing += ClassifyTrend(t, y, o).verdict == Verdict::kGrowing;
    }
    return growing;
  };
  EXPECT_LE(found(floor / 2), 10);
  EXPECT_GE(found(floor * 2), 170);
  // Exact series and every-allocation mode have no sampling floor.
  o.rate = 1;
  EXPECT_EQ(GrowthFloorPerSec(o, 30), 0);
  o = Options();
  o.exact = true;
  EXPECT_EQ(GrowthFloorPerSec(o, 30), 0);
  EXPECT_EQ(GrowthFloorPerSec(Options(), 0), 0);
}

TEST(BytesOlderThanTest, SpreadsABucketEvenly) {
  // The runtime's buckets: [0,1) [1,2) [2,3) [3,4) [4,6) [6,8) [8,12) ...
  std::vector<AgeBytes> h = {{0, 100}, {4, 200}, {8, 400}, {16, 800}};
  EXPECT_DOUBLE_EQ(BytesOlderThan(h, 0), 1500);
  EXPECT_DOUBLE_EQ(BytesOlderThan(h, 4), 1400);
  EXPECT_DOUBLE_EQ(BytesOlderThan(h, 5), 1300);     // half of [4,6)
  EXPECT_DOUBLE_EQ(BytesOlderThan(h, 10), 1000);    // half of [8,12)
  EXPECT_DOUBLE_EQ(BytesOlderThan(h, 20), 400);     // half of [16,24)
  EXPECT_DOUBLE_EQ(BytesOlderThan(h, 24), 0);
  EXPECT_DOUBLE_EQ(BytesOlderThan({}, 1), 0);
}

// Sampled objects with birth and death times, for series whose estimates
// move together from one snapshot to the next (the same sampled objects
// stay until they die), with their ages as the runtime labels them.
class ObjectSim {
 public:
  explicit ObjectSim(uint32_t seed) : rng_(seed) {}
  // n objects of `size` bytes born evenly over [from, to), each living
  // `life` seconds (infinity: never freed).
  void Add(double n, double from, double to, double life, double size) {
    double p = 1 - std::exp(-size / kRate);
    std::uniform_real_distribution<double> u(0, 1);
    for (long i = 0; i < static_cast<long>(n); i++) {
      if (u(rng_) >= p) continue;
      double birth = from + (to - from) * (static_cast<double>(i) + 0.5) / n;
      objects_.push_back({birth, birth + life, size / p});
    }
  }
  // One object of `size` bytes alive over [birth, death), if sampled.
  void AddOne(double birth, double death, double size) {
    double p = 1 - std::exp(-size / kRate);
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < p) {
      objects_.push_back({birth, death, size / p});
    }
  }
  double Level(double t) const {
    double sum = 0;
    for (const auto& o : objects_) sum += o.birth <= t && t < o.death ? o.weight : 0;
    return sum;
  }
  // In-use bytes at t by the runtime's age buckets, and the object count.
  SeriesAges Ages(double t, std::vector<AgeBytes>* storage) const {
    std::map<double, double> by;
    double objects = 0;
    for (const auto& o : objects_) {
      if (!(o.birth <= t && t < o.death)) continue;
      by[BucketLow(t - o.birth)] += o.weight;
      objects += o.weight / 1024;
    }
    storage->clear();
    for (auto [age, bytes] : by) storage->push_back({age, bytes});
    return SeriesAges{*storage, objects};
  }

 private:
  static double BucketLow(double age) {
    return static_cast<double>(
        base::AgeBucketLow(base::AgeBucketOf(static_cast<uint64_t>(std::floor(age)))));
  }
  struct Object {
    double birth, death, weight;
  };
  std::vector<Object> objects_;
  std::mt19937 rng_;
};

TEST(ClassifyTrendTest, TurningOverCacheIsNotGrowingWithAges) {
  // A live watch started with the program: an 8 MB LRU of 2 KiB entries
  // fills in 3 s, then every put evicts the oldest (1400 puts/s: an entry
  // lives 2.9 s); 12 s at 0.5 s. The same sampled entries stay for seconds,
  // so the estimate wanders rather than scatters, and a wander after the
  // fill can pass the level-only tests. No sampled entry outlives a third
  // of the window, so with the ages none may be growing.
  int growing_by_level = 0, growing_with_ages = 0, turned_over = 0;
  for (uint32_t seed = 1; seed <= 400; seed++) {
    ObjectSim sim(seed);
    auto birth = [](double k) { return k < 4000 ? 3 * k / 4000 : 3 + (k - 4000) / 1400; };
    for (double k = 0; birth(k) < 12.5; k++) sim.AddOne(birth(k), birth(k + 4000), 2048);
    std::vector<double> t, y;
    for (int i = 0; i <= 24; i++) {
      t.push_back(0.5 * i);
      y.push_back(sim.Level(0.5 * i));
    }
    std::vector<AgeBytes> storage;
    SeriesAges ages = sim.Ages(t.back(), &storage);
    growing_by_level += ClassifyTrend(t, y, Options()).verdict == Verdict::kGrowing;
    Trend tr = ClassifyTrend(t, y, Options(), &ages);
    growing_with_ages += tr.verdict == Verdict::kGrowing;
    turned_over += tr.turned_over;
  }
  EXPECT_EQ(growing_with_ages, 0) << "level alone: " << growing_by_level;
  EXPECT_EQ(turned_over, growing_by_level);
  // The case is a hard one for the level alone (33 of these 400 draws).
  EXPECT_GT(growing_by_level, 10);
}

TEST(ClassifyTrendTest, LeakAmongChurnOnItsStackStaysGrowingWithAges) {
  // 1 MB/s of 1 KiB objects kept for good, on the same stack as an 8 MB
  // pool of objects that live 1 s; 20 snapshots 1 s apart. The ages keep
  // every verdict the level gives (the leak's objects stay).
  int by_level = 0, with_ages = 0;
  for (uint32_t seed = 1; seed <= 50; seed++) {
    ObjectSim sim(seed);
    sim.Add(20 * 1024, 0, 20, INFINITY, 1024);
    sim.Add(8192 * 21, -1, 20, 1, 1024);
    std::vector<double> t, y;
    for (int i = 0; i < 20; i++) {
      t.push_back(i);
      y.push_back(sim.Level(i));
    }
    std::vector<AgeBytes> storage;
    SeriesAges ages = sim.Ages(t.back(), &storage);
    by_level += ClassifyTrend(t, y, Options()).verdict == Verdict::kGrowing;
    Trend tr = ClassifyTrend(t, y, Options(), &ages);
    with_ages += tr.verdict == Verdict::kGrowing;
    EXPECT_GT(tr.persisted, 0);
  }
  EXPECT_GE(by_level, 48);
  EXPECT_EQ(with_ages, by_level);
}

TEST(ClassifyTrendTest, FewObjectsSkipTheAgeCheck) {
  // One buffer grown by reallocation: always young, yet a leak.
  auto t = Times(10);
  std::vector<double> y;
  for (double x : t) y.push_back((x + 1) * 4 * kMB);
  std::vector<AgeBytes> young = {{0, y.back()}};
  SeriesAges one{young, 1};
  EXPECT_EQ(ClassifyTrend(t, y, Options(), &one).verdict, Verdict::kGrowing);
  SeriesAges many{young, 4000};
  Trend tr = ClassifyTrend(t, y, Options(), &many);
  EXPECT_NE(tr.verdict, Verdict::kGrowing);
  EXPECT_TRUE(tr.turned_over);
}

TEST(ClassifyTrendTest, TooFewSnapshots) {
  std::vector<double> t = Times(5), y = {1, 2, 3, 4, 5};
  TrendOptions o = Options();
  o.rate = 1;
  EXPECT_EQ(ClassifyTrend(t, y, o).verdict, Verdict::kNotEnoughSnapshots);
  t = Times(6);
  y = {10, 20, 30, 40, 50, 60};
  EXPECT_EQ(ClassifyTrend(t, y, o).verdict, Verdict::kGrowing);
}

}  // namespace
}  // namespace heapscope::analyze
