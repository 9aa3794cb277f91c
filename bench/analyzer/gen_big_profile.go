// gen_big_profile writes a large, realistic synthetic heap profile
// (profile.proto, gzipped) for timing `heapscope top` against
// `go tool pprof -top`: four sample types like a heap profile, stacks 5 to
// 40 frames deep drawn from C++-style demangled function names with a
// skewed (Zipf) distribution, inline chains, mappings for a binary and its
// shared libraries, and a numeric "bytes" label per sample as Go writes.
// Deterministic for a given seed. Standard library only.
//
// usage: go run gen_big_profile.go [-samples N] [-functions N] [-seed N] OUT.pb.gz
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"math/rand"
	"os"
)

// A minimal protobuf writer for the fields profile.proto uses.
type pb struct{ b []byte }

func (p *pb) varint(v uint64) {
	for v >= 0x80 {
		p.b = append(p.b, byte(v)|0x80)
		v >>= 7
	}
	p.b = append(p.b, byte(v))
}
func (p *pb) u64(field int, v uint64) {
	if v == 0 {
		return
	}
	p.varint(uint64(field) << 3)
	p.varint(v)
}
func (p *pb) i64(field int, v int64) { p.u64(field, uint64(v)) }
func (p *pb) bytes(field int, b []byte) {
	p.varint(uint64(field)<<3 | 2)
	p.varint(uint64(len(b)))
	p.b = append(p.b, b...)
}
func (p *pb) packed(field int, vs []uint64) {
	var body pb
	for _, v := range vs {
		body.varint(v)
	}
	p.bytes(field, body.b)
}

type strtab struct {
	index map[string]int64
	list  []string
}

func (s *strtab) id(str string) int64 {
	if i, ok := s.index[str]; ok {
		return i
	}
	i := int64(len(s.list))
	s.index[str] = i
	s.list = append(s.list, str)
	return i
}

var (
	namespaces = []string{"absl", "std", "folly", "grpc", "proto2", "cache", "storage", "net",
		"rpc", "index", "query", "util", "base", "sched", "http", "json"}
	classes = []string{"Arena", "Buffer", "Channel", "Connection", "Decoder", "Encoder",
		"Executor", "FlatHashMap<std::string, Entry>", "Handler", "Index", "Iterator",
		"LruCache<Key, Value>", "Parser", "Pool", "Reader", "Request", "Response", "Router",
		"Segment", "Server", "Session", "Shard", "Stream", "Table", "ThreadPool", "Tokenizer",
		"Transaction", "Tree<int>", "Vector<Record>", "Writer"}
	methods = []string{"Run", "Read", "Write", "Parse", "Encode", "Decode", "Insert", "Lookup",
		"Resize", "Grow", "Append", "Flush", "Handle", "Dispatch", "Serialize", "Merge",
		"Split", "Compact", "Reserve", "Allocate", "Emplace", "Rehash", "Process", "Build"}
	params = []string{"()", "(unsigned long)", "(std::string const&)", "(int, int)",
		"(absl::string_view)", "(Request const&, Response*)", "() const", "(void*, unsigned long)",
		"(std::vector<int, std::allocator<int> > const&)", "(Key const&, Value&&)"}
	libraries = []string{"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "/usr/lib/x86_64-linux-gnu/libprotobuf.so.32",
		"/opt/service/lib/libgrpc++.so.1.51", "/opt/service/lib/libfolly.so.0.58",
		"/opt/service/lib/libstorage.so", "/opt/service/lib/libindex.so"}
)

func main() {
	numSamples := flag.Int("samples", 300000, "number of samples")
	numFunctions := flag.Int("functions", 20000, "number of distinct functions")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gen_big_profile [-samples N] [-functions N] [-seed N] OUT.pb.gz")
		os.Exit(2)
	}
	r := rand.New(rand.NewSource(*seed))
	st := &strtab{index: map[string]int64{}}
	st.id("")
	var out pb

	for _, t := range [][2]string{{"alloc_objects", "count"}, {"alloc_space", "bytes"},
		{"inuse_objects", "count"}, {"inuse_space", "bytes"}} {
		var vt pb
		vt.i64(1, st.id(t[0]))
		vt.i64(2, st.id(t[1]))
		out.bytes(1, vt.b)
	}

	// Mappings: the binary, then its libraries, laid out like /proc/self/maps.
	files := append([]string{"/opt/service/bin/cache_server"}, libraries...)
	type mapping struct{ start, limit uint64 }
	var maps []mapping
	for i, f := range files {
		start := uint64(0x555555554000)
		if i > 0 {
			start = 0x7f0000000000 + uint64(i)<<28
		}
		m := mapping{start, start + 64<<20}
		maps = append(maps, m)
		var mp pb
		mp.u64(1, uint64(i+1))
		mp.u64(2, m.start)
		mp.u64(3, m.limit)
		mp.u64(4, 0x1000)
		mp.i64(5, st.id(f))
		mp.i64(6, st.id(fmt.Sprintf("%040x", r.Uint64())))
		mp.u64(7, 1)
		out.bytes(3, mp.b)
	}

	// Functions: unique demangled names.
	seen := map[string]bool{}
	var fnMapping []int
	for id := 1; id <= *numFunctions; id++ {
		var name string
		for {
			name = fmt.Sprintf("%s::%s::%s%s", namespaces[r.Intn(len(namespaces))],
				classes[r.Intn(len(classes))], methods[r.Intn(len(methods))], params[r.Intn(len(params))])
			if r.Intn(4) == 0 {
				name = fmt.Sprintf("%s::(anonymous namespace)::%s_%d%s", namespaces[r.Intn(len(namespaces))],
					methods[r.Intn(len(methods))], r.Intn(1000), params[r.Intn(len(params))])
			}
			if !seen[name] {
				seen[name] = true
				break
			}
		}
		var fn pb
		fn.u64(1, uint64(id))
		fn.i64(2, st.id(name))
		fn.i64(3, st.id(name))
		fn.i64(4, st.id(fmt.Sprintf("src/%s/%d.cc", namespaces[id%len(namespaces)], id%500)))
		fn.i64(5, int64(10+r.Intn(2000)))
		out.bytes(5, fn.b)
		fnMapping = append(fnMapping, 1+r.Intn(len(files)))
	}

	// Locations: about three call sites per function; one in eight is an
	// inline chain of two or three functions.
	numLocations := 3 * *numFunctions
	zipfFn := rand.NewZipf(r, 1.15, 8, uint64(*numFunctions-1))
	for id := 1; id <= numLocations; id++ {
		fnIndex := int(zipfFn.Uint64())
		if id <= *numFunctions {
			fnIndex = id - 1 // Every function has at least one location.
		}
		m := fnMapping[fnIndex]
		var loc pb
		loc.u64(1, uint64(id))
		loc.u64(2, uint64(m))
		loc.u64(3, maps[m-1].start+uint64(r.Intn(60<<20)))
		chain := 1
		if r.Intn(8) == 0 {
			chain = 2 + r.Intn(2)
		}
		for c := 0; c < chain; c++ {
			f := fnIndex + 1
			if c > 0 {
				f = 1 + r.Intn(*numFunctions)
			}
			var line pb
			line.u64(1, uint64(f))
			line.i64(2, int64(1+r.Intn(3000)))
			loc.bytes(4, line.b)
		}
		out.bytes(4, loc.b)
	}

	// Samples: a skewed leaf, a skewed set of callers, and a few shared
	// roots (main, thread entry points) so stacks share prefixes.
	zipfLoc := rand.NewZipf(r, 1.1, 4, uint64(numLocations-1))
	roots := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	bytesKey := st.id("bytes")
	ids := make([]uint64, 0, 48)
	for s := 0; s < *numSamples; s++ {
		depth := 5 + r.Intn(36)
		ids = ids[:0]
		for d := 0; d < depth-1; d++ {
			ids = append(ids, 1+zipfLoc.Uint64())
		}
		ids = append(ids, roots[r.Intn(len(roots))])
		size := int64(16) << uint(r.Intn(14))
		objects := int64(1 + r.Intn(64))
		inuse := objects * int64(r.Intn(3)) / 2
		var sm pb
		sm.packed(1, ids)
		sm.packed(2, []uint64{uint64(objects), uint64(objects * size), uint64(inuse), uint64(inuse * size)})
		var label pb
		label.i64(1, bytesKey)
		label.i64(3, size)
		sm.bytes(3, label.b)
		out.bytes(2, sm.b)
	}

	var pt pb
	pt.i64(1, st.id("space"))
	pt.i64(2, st.id("bytes"))
	out.bytes(11, pt.b)
	out.i64(12, 524288)
	out.i64(9, 1700000000000000000)
	out.i64(13, st.id("heapscope: synthetic profile from bench/analyzer/gen_big_profile.go"))
	for _, s := range st.list {
		out.bytes(6, []byte(s))
	}

	f, err := os.Create(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_big_profile:", err)
		os.Exit(1)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	gz := gzip.NewWriter(w)
	if _, err := gz.Write(out.b); err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_big_profile:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gen_big_profile: %d samples, %d functions, %d locations, %d bytes before gzip\n",
		*numSamples, *numFunctions, numLocations, len(out.b))
}
