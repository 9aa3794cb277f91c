// Trend statistics for leak detection over a series of heap snapshots:
// Theil-Sen slope, the Mann-Kendall trend test (tie-corrected variance) and
// the verdict a series of in-use bytes earns (growing, plateau, transient,
// constant, shrinking). Pure functions; README.md "Leak trends: how verdicts
// are reached" explains the method and its thresholds.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace heapscope::analyze {

struct MannKendall {
  double s = 0;         // Sum of sign(y[j] - y[i]) over i < j.
  double variance = 0;  // Var(S) under no trend, corrected for ties.
  double z = 0;         // Continuity-corrected normal score; 0 when variance is 0.
  double p_value = 1;   // Two-sided.
};

// The Mann-Kendall test of `y` (in time order) for a monotone trend.
MannKendall MannKendallTest(std::span<const double> y);

// The median of the slopes (y[j] - y[i]) / (t[j] - t[i]) over pairs with
// t[j] != t[i]; 0 with fewer than two distinct times.
double TheilSenSlope(std::span<const double> t, std::span<const double> y);

// P(|Z| >= |z|) for a standard normal Z.
double NormalTwoSidedP(double z);

// The sampling standard deviation of an in-use estimate of `bytes` at mean
// sampling distance `rate` bytes: about sqrt(bytes * rate) for objects much
// smaller than the rate. At least one sample's worth (rate) is assumed, so a
// stack with one or two samples is never "certain"; rate <= 1 (every
// allocation recorded) makes the estimate exact except for that floor.
double SamplingNoise(double bytes, double rate);

enum class Verdict { kGrowing, kPlateau, kTransient, kConstant, kShrinking, kNotEnoughSnapshots };

std::string_view VerdictName(Verdict v);

struct TrendOptions {
  double rate = 524288;        // The runtime's mean sampling distance, bytes.
  size_t min_snapshots = 6;    // Fewer: kNotEnoughSnapshots.
  double alpha = 0.01;         // Mann-Kendall significance (two-sided).
  double noise_k = 3;          // A trend must move more than noise_k sampling sds.
  double recent_fraction = 1.0 / 3;  // The "recent part": the last third.
  size_t recent_min = 4;             // ... but at least this many points.
  double half_alpha = 0.1;     // The last 60% (at least recent_min + 1 points) must
                               // rise by its own Mann-Kendall test at this level.
  double recent_keep = 0.25;   // Recent rise must reach this part of what the
                               // overall slope predicts (less noise), else plateau.
  double persist_part = 0.1;   // See ClassifyTrend's `ages`.
  double shape_fraction = 0.2; // Rises and falls smaller than this part of the
                               // level are not shapes (exact mode wiggles).
  // Exact series (counts of descriptors, threads, mappings and their bytes,
  // read from tables rather than sampled): no sampling noise, only a floor
  // of half a unit so one step is never a trend by itself.
  bool exact = false;
  double exact_noise = 0.5;
};

// In-use bytes of one age bucket: objects at least age_sec old (and younger
// than the next bucket's bound).
struct AgeBytes {
  double age_sec = 0;
  double bytes = 0;
};

// What the runtime says about the ages of a series' objects at its last
// point, for the persistence check (ClassifyTrend).
struct SeriesAges {
  std::span<const AgeBytes> by_age;  // sorted by age_sec
  double objects = 0;                // in-use objects at the last point
};

// In-use bytes at least `age` seconds old, taking each bucket's bytes as
// spread evenly up to the next bucket's bound (the runtime's buckets: 0, 1,
// 2, 3, 4, 6, 8, 12, ...: two per octave).
double BytesOlderThan(std::span<const AgeBytes> by_age, double age);

struct Trend {
  Verdict verdict = Verdict::kConstant;
  double slope = 0;         // Theil-Sen, units per time unit of `t`.
  double rise = 0;          // slope * (t.back() - t.front()).
  double recent_slope = 0;  // Theil-Sen over the recent part.
  MannKendall mk;
  MannKendall recent_mk;
  MannKendall half_mk;      // Over the last 60%.
  double noise = 0;         // SamplingNoise of the series' level.
  double confidence = 0;    // 1 - mk.p_value.
  // Rose like a leak, but what it added early in the window is gone by its
  // end (objects that turn over: a bounded cache), so not growing.
  bool turned_over = false;
  double persisted = -1;    // Bytes born in the window's first half still in use; -1 unknown.
  // Growing under temporary peaks: the series rose and fell back, but the
  // points between its peaks, judged alone, are growing; the other fields
  // describe those points.
  bool under_peaks = false;
};

// The slowest growth a sampled series over `span` seconds can be called
// growing at: a stack that starts from nothing must rise more than noise_k
// sampling sds of its own level, sqrt(rise * rate), so rise > noise_k^2 *
// rate; divided by the span. A stack that held memory before the window
// needs more (its level adds to the noise). 0 for exact series and for
// every-allocation mode (rate <= 1), where sampling sets no floor.
double GrowthFloorPerSec(const TrendOptions& options, double span);

// Classifies the series y (bytes) taken at times t (seconds, increasing).
// With `ages` (heap series whose profiles carry ages), a rise is only
// growth if what the window added early is still there at its end: the
// bytes born in the first half of the window and alive at the last point
// must exceed `persist_part` of what the slope says was added then.
// Series of fewer than 4 in-use objects skip it (a buffer that grows by
// reallocation is always young).
Trend ClassifyTrend(std::span<const double> t, std::span<const double> y,
                    const TrendOptions& options, const SeriesAges* ages = nullptr);

}  // namespace heapscope::analyze
