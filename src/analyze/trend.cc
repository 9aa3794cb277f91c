#include "analyze/trend.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "base/age_buckets.h"

namespace heapscope::analyze {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lo + hi) / 2;
}

int Sign(double d) { return d > 0 ? 1 : (d < 0 ? -1 : 0); }

}  // namespace

double NormalTwoSidedP(double z) { return std::erfc(std::fabs(z) / std::sqrt(2.0)); }

MannKendall MannKendallTest(std::span<const double> y) {
  MannKendall r;
  const size_t n = y.size();
  if (n < 2) return r;
  long long s = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    for (size_t j = i + 1; j < n; j++) s += Sign(y[j] - y[i]);
  }
  // Var(S) = [n(n-1)(2n+5) - sum over tie groups t(t-1)(2t+5)] / 18.
  std::map<double, size_t> groups;
  for (double v : y) groups[v]++;
  double nn = static_cast<double>(n);
  double var = nn * (nn - 1) * (2 * nn + 5);
  for (const auto& [value, count] : groups) {
    double t = static_cast<double>(count);
    var -= t * (t - 1) * (2 * t + 5);
  }
  var /= 18;
  r.s = static_cast<double>(s);
  r.variance = var;
  if (var > 0) {
    if (s > 0) r.z = (r.s - 1) / std::sqrt(var);
    if (s < 0) r.z = (r.s + 1) / std::sqrt(var);
  }
  r.p_value = var > 0 ? NormalTwoSidedP(r.z) : 1.0;
  return r;
}

double TheilSenSlope(std::span<const double> t, std::span<const double> y) {
  std::vector<double> slopes;
  const size_t n = std::min(t.size(), y.size());
  slopes.reserve(n * (n - (n > 0)) / 2);
  for (size_t i = 0; i + 1 < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      if (t[j] != t[i]) slopes.push_back((y[j] - y[i]) / (t[j] - t[i]));
    }
  }
  return Median(std::move(slopes));
}

double SamplingNoise(double bytes, double rate) {
  if (rate < 1) rate = 1;
  return std::sqrt(std::max(bytes, rate) * rate);
}

double GrowthFloorPerSec(const TrendOptions& o, double span) {
  if (o.exact || o.rate <= 1 || span <= 0) return 0;
  return o.noise_k * o.noise_k * o.rate / span;
}

namespace {

// The upper bound of the runtime's age bucket that starts at lo.
double AgeBucketEnd(double lo) {
  const int bucket = base::AgeBucketOf(static_cast<uint64_t>(std::max(0.0, lo)));
  return static_cast<double>(base::AgeBucketLow(bucket + 1));
}

}  // namespace

double BytesOlderThan(std::span<const AgeBytes> by_age, double age) {
  double sum = 0;
  for (const AgeBytes& a : by_age) {
    double hi = AgeBucketEnd(a.age_sec);
    if (a.age_sec >= age) {
      sum += a.bytes;
    } else if (hi > age) {
      sum += a.bytes * (hi - age) / (hi - a.age_sec);
    }
  }
  return sum;
}

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kGrowing: return "growing";
    case Verdict::kPlateau: return "plateau";
    case Verdict::kTransient: return "transient";
    case Verdict::kConstant: return "constant";
    case Verdict::kShrinking: return "shrinking";
    case Verdict::kNotEnoughSnapshots: return "not enough snapshots";
  }
  return "?";
}

namespace {

Trend Classify(std::span<const double> t, std::span<const double> y, const TrendOptions& o,
               const SeriesAges* ages, bool look_under_peaks) {
  Trend r;
  const size_t n = std::min(t.size(), y.size());
  t = t.first(n);
  y = y.first(n);
  if (n == 0) {
    r.verdict = Verdict::kNotEnoughSnapshots;
    return r;
  }
  const double peak = *std::max_element(y.begin(), y.end());
  auto sampling_noise = [&](double v) {
    return o.exact ? o.exact_noise : SamplingNoise(v, o.rate);
  };
  const double span_t = t.back() - t.front();
  r.mk = MannKendallTest(y);
  r.slope = TheilSenSlope(t, y);
  r.rise = r.slope * span_t;
  r.noise = sampling_noise(peak);
  r.confidence = 1 - r.mk.p_value;

  size_t m = static_cast<size_t>(std::ceil(static_cast<double>(n) * o.recent_fraction));
  m = std::min(n, std::max(m, o.recent_min));
  auto rt = t.last(m);
  auto ry = y.last(m);
  r.recent_mk = MannKendallTest(ry);
  r.recent_slope = TheilSenSlope(rt, ry);

  if (n < o.min_snapshots) {
    r.verdict = Verdict::kNotEnoughSnapshots;
    return r;
  }
  // How far a value must move to count as a real change: beyond the
  // sampling noise, and (when the noise is tiny, in exact mode) beyond a
  // fixed part of the value.
  auto threshold = [&](double v) {
    return std::max(o.noise_k * sampling_noise(std::fabs(v)), o.shape_fraction * std::fabs(v));
  };

  // Growing: a significant upward Mann-Kendall trend, a rise over the
  // window well beyond the sampling noise, and a recent part that still
  // rises about as fast as the whole predicts (not a filled cache).
  // Medians of the first, middle and last thirds: robust levels that a
  // cache filling early (first third) cannot drag along.
  const size_t third = std::max<size_t>(1, n / 3);
  const double first_level = Median({y.begin(), y.begin() + static_cast<std::ptrdiff_t>(third)});
  const double middle_level =
      Median({y.begin() + static_cast<std::ptrdiff_t>((n - third) / 2),
              y.begin() + static_cast<std::ptrdiff_t>((n - third) / 2 + third)});
  const double last_level = Median({y.end() - static_cast<std::ptrdiff_t>(third), y.end()});
  const double thirds_rise = last_level - first_level;
  if (r.mk.s > 0 && r.mk.p_value < o.alpha && r.rise > o.noise_k * r.noise &&
      thirds_rise > (2.0 / 3) * o.noise_k * r.noise) {
    const double recent_span = rt.back() - rt.front();
    double recent_rise = r.recent_slope * recent_span;
    // Sparse samples make step series whose pairwise slopes are mostly 0:
    // then count the steps the recent part took.
    if (r.recent_slope == 0) recent_rise = ry.back() - ry.front();
    const double expected = r.slope * recent_span;
    const bool not_falling = !(r.recent_mk.s < 0 && r.recent_mk.p_value < 0.1);
    const bool keeps_up =
        recent_rise >= o.recent_keep * expected - 2 * sampling_noise(expected);
    // The last third still stands above the middle one.
    const double late_rise = last_level - middle_level;
    const double expected_third = r.slope * span_t / 3;
    const bool late_up = late_rise > 0 && late_rise >= o.recent_keep * expected_third -
                                                          2 * sampling_noise(expected_third);
    // The last 60% rises by itself: a bounded cache that filled in the
    // first part (common in short or young series) is flat there.
    const size_t half = std::min(n, std::max(o.recent_min + 1, n * 3 / 5));
    r.half_mk = MannKendallTest(y.last(half));
    const bool half_rises = r.half_mk.s > 0 && r.half_mk.p_value < o.half_alpha;
    // It persists: objects born in the first half of the window are still
    // there at its end, at least a part of what the slope says was added
    // then. A bounded cache whose objects turn over within half the window
    // keeps none of them, however its sampled level wanders.
    bool persists = true;
    if (ages != nullptr && !ages->by_age.empty() && ages->objects >= 4 && span_t > 0) {
      const double cut = span_t / 2;
      r.persisted = std::max(0.0, BytesOlderThan(ages->by_age, cut) -
                                      BytesOlderThan(ages->by_age, span_t));
      persists = r.persisted > o.persist_part * r.slope * (span_t - cut);
    }
    if (not_falling && recent_rise > 0 && keeps_up && late_up && half_rises) {
      if (persists) {
        r.verdict = Verdict::kGrowing;
        return r;
      }
      r.turned_over = true;
    }
  }

  // Transient: some value stands well above both an earlier and a later one
  // (rose and fell back). Two noisy values differ by up to a few sds by
  // chance, so a fall must pass twice the threshold a rise must, and half
  // the peak.
  auto fall_threshold = [&](double v) {
    return std::max(2 * o.noise_k * sampling_noise(std::fabs(v)), 0.5 * std::fabs(v));
  };
  {
    std::vector<double> min_after(n);
    double lo = y[n - 1];
    for (size_t k = n; k-- > 0;) {
      lo = std::min(lo, y[k]);
      min_after[k] = lo;
    }
    double min_before = y[0];
    std::vector<double> kept_t, kept_y;  // the points that are not peaks
    bool peaks = false;
    for (size_t j = 0; j < n; j++) {
      min_before = std::min(min_before, y[j]);
      double excursion = std::min(y[j] - min_before, y[j] - min_after[j]);
      if (excursion > fall_threshold(y[j]) && excursion > 0) {
        peaks = true;
      } else {
        kept_t.push_back(t[j]);
        kept_y.push_back(y[j]);
      }
    }
    if (peaks) {
      // Peaks that come and go can stand on a level that keeps rising (a
      // leak on a stack that also makes temporary bursts, or a process
      // with both): judge the points between the peaks as a series of
      // their own.
      if (look_under_peaks && kept_y.size() >= o.min_snapshots) {
        Trend f = Classify(kept_t, kept_y, o, ages, false);
        if (f.verdict == Verdict::kGrowing) {
          f.under_peaks = true;
          return f;
        }
      }
      r.verdict = Verdict::kTransient;
      return r;
    }
  }

  if (r.mk.s < 0 && r.mk.p_value < o.alpha && -r.rise > o.noise_k * r.noise) {
    r.verdict = Verdict::kShrinking;
    return r;
  }

  // Plateau: the recent level stands well above where the series started.
  std::vector<double> recent(ry.begin(), ry.end());
  const double late = Median(recent);
  const double early = y[0];
  if (late - early > threshold(late)) {
    r.verdict = Verdict::kPlateau;
    return r;
  }
  r.verdict = Verdict::kConstant;
  return r;
}

}  // namespace

Trend ClassifyTrend(std::span<const double> t, std::span<const double> y,
                    const TrendOptions& o, const SeriesAges* ages) {
  return Classify(t, y, o, ages, true);
}

}  // namespace heapscope::analyze
