// A Go program whose C code (cgo) leaks: 300 blocks of 64 KiB from malloc,
// one every 10 ms, kept. Only its C allocations reach heapscope's runtime;
// the stacks end where Go called into C (runtime.asmcgocall), whose
// assembly must not be given the file and line of a C file. Prints
// "done 300".
package main

/*
#include <stdlib.h>
#include <string.h>

static void* leak(int n) {
	void* p = malloc(n);
	memset(p, 1, n);
	return p;
}
*/
import "C"

import (
	"fmt"
	"time"
)

func main() {
	var keep []*C.char
	for i := 0; i < 300; i++ {
		keep = append(keep, (*C.char)(C.leak(C.int(64*1024))))
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("done", len(keep))
}
