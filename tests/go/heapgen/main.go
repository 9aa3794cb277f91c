// heapgen allocates from a few clearly named functions, keeps the memory
// live, and writes a runtime/pprof heap profile to the path it is given.
// heapscope's end-to-end tests read that profile to check `heapscope top`
// against a real Go-written profile.
//
// `heapgen -series DIR COUNT` instead writes COUNT heap profiles a fifth
// of a second apart (DIR/heap.N.pb.gz) while a function the compiler
// inlines keeps memory it never lets go: the test checks that `heapscope
// leaks` names it and gives each frame of the inline chain its own line.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
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

// Small enough for the compiler to inline into serveRequests: Go's
// profile then has one location with two lines (rememberSession inside
// serveRequests).
func rememberSession() {
	retained = append(retained, make([]byte, 32<<10))
}

//go:noinline
func serveRequests(n int) {
	for i := 0; i < n; i++ {
		rememberSession()
	}
}

func writeProfile(path string) {
	// The heap profile reports the state as of the last completed GC.
	runtime.GC()
	f, err := os.Create(path)
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
}

func series(dir string, count int) {
	runtime.MemProfileRate = 1
	for i := 0; i < count; i++ {
		serveRequests(16)
		writeProfile(filepath.Join(dir, fmt.Sprintf("heap.%d.pb.gz", i)))
		time.Sleep(200 * time.Millisecond)
	}
	runtime.KeepAlive(retained)
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-series" {
		count, err := strconv.Atoi(os.Args[3])
		if err != nil || count < 1 {
			fmt.Fprintln(os.Stderr, "heapgen: COUNT must be a positive number")
			os.Exit(2)
		}
		series(os.Args[2], count)
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: heapgen OUTPUT.pb.gz | heapgen -series DIR COUNT")
		os.Exit(2)
	}
	// Sample every allocation so the profile is exact and deterministic in
	// which functions it names.
	runtime.MemProfileRate = 1
	allocateLargeBuffers()
	allocateThroughHelper()
	writeProfile(os.Args[1])
	runtime.KeepAlive(retained)
}
