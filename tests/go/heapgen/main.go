// heapgen allocates from a few clearly named functions, keeps the memory
// live, and writes a runtime/pprof heap profile to the path it is given.
// heapscope's end-to-end tests read that profile to check `heapscope top`
// against a real Go-written profile.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Kept reachable so the allocations show as in use.
var retained [][]byte

//go:noinline
func allocateLargeBuffers() {
	for i := 0; i < 64; i++ {
		retained = append(retained, make([]byte, 1<<20))
	}
}

//go:noinline
func allocateSmallRecords() {
	for i := 0; i < 20000; i++ {
		retained = append(retained, make([]byte, 512))
	}
}

//go:noinline
func allocateThroughHelper() {
	allocateSmallRecords()
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: heapgen OUTPUT.pb.gz")
		os.Exit(2)
	}
	// Sample every allocation so the profile is exact and deterministic in
	// which functions it names.
	runtime.MemProfileRate = 1
	allocateLargeBuffers()
	allocateThroughHelper()
	// The heap profile reports the state as of the last completed GC.
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "heapgen:", err)
		os.Exit(1)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "heapgen:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "heapgen:", err)
		os.Exit(1)
	}
	runtime.KeepAlive(retained)
}
