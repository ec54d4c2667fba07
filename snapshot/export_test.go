package snapshot

// CaptureLocal exposes the capture of one runtime to the benchmarks, as a
// baseline: what a capture costs without going through Raft.
var CaptureLocal = captureLocal

// EncodePart exposes the part encoding to the benchmarks.
var EncodePart = encodePart
