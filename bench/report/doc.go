// Package report holds the benchmark's result: the JSON document written
// under bench/results/ (its shape is versioned by Schema, so that later runs
// can be compared with earlier ones), the pairing of interleaved runs into
// ratios, the machine description and the table printed on stdout. It does
// no measuring itself.
package report
