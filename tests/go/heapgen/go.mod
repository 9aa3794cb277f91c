module heapscope.test/heapgen

go 1.19
