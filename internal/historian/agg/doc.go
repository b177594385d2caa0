// Package agg computes the historian's aggregates over processing
// intervals with the meaning OPC UA Part 13 gives them, values at a time,
// and plot decimation (min/max per pixel and LTTB).
//
// It owns the arithmetic only: it reads samples of one tag from an
// Iterator (a chunk iterator, a slice, a merge of segments) and must not
// do I/O or know about chunks, Pebble or the REST API. Aggregate works in
// one pass, with memory proportional to the number of intervals.
//
// # The signal between samples
//
// Each sample's value and quality hold from its source time until the
// next sample (the last one holds until the end of the query). Float tags
// are interpolated linearly between two good samples unless the tag is
// Stepped; bool, integer and string tags are always stepped (Part 13
// 3.1.x). A linear region whose next sample is not good is held stepwise
// (stepped extrapolation). Time before the first sample, and time during
// which a bad sample holds, has no good data.
//
// # Quality
//
// A sample is good when its quality is Good, or Uncertain and
// TreatUncertainAsBad is false, and it has a value that is not NaN. Bad
// samples, samples without value and NaN never enter a calculation; their
// time counts as bad. Uncertain samples used make a result Uncertain.
//
// Each Result has a Status (Part 13 5.3.3, by time): BadNoData when the
// interval holds no good data at all; Bad when PercentBad ≥
// PercentDataBad; Good when PercentGood ≥ PercentDataGood and nothing
// uncertain was used; UncertainDataSubNormal otherwise. The Calculated
// historian bit is always set, Partial when the interval is cut short by
// the end of the query. Minimum/MaximumStatus carry MultiValue when the
// extreme occurs more than once; InterpolativeStatus carries Interpolated
// when no sample lies exactly at the interval start.
//
// # The aggregates
//
//   - Count: good samples in [Start, End).
//   - Minimum, Maximum with MinimumTime/MaximumTime (Part 13's
//     MinimumActualTime/MaximumActualTime): over good samples, the first
//     occurrence.
//   - Average: arithmetic mean of good samples. StdDevSample (n−1) and
//     StdDevPopulation (n) over the same samples; Range = Maximum − Minimum.
//   - First, Last: the first and last good samples (Start and End).
//   - TimeAverage: ∫ signal dt over the good time of the interval, divided
//     by that time; the signal at the interval's bounds is interpolated
//     from the samples around it (the sample before Start bounds the first
//     interval, the first sample at or after End the last).
//   - Total: the same integral in value × seconds (a flow in units/s gives
//     the quantity).
//   - DurationGood, DurationBad (ns) and PercentGood, PercentBad (0..100) by
//     time; no data counts as bad.
//   - DurationInStateZero, DurationInStateNonZero: good time with the
//     stepped value zero (false) or not.
//   - Transitions (NumberOfTransitions): good samples in the interval whose
//     value differs from the previous good sample's, which may lie before
//     Start.
//   - Interpolative: the value at Start (see ValueAt).
//
// For string tags only Count, First, Last, the durations, percentages and
// Transitions are meaningful.
package agg
