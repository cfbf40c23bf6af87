module spindle/bench/peers/go/runtime

go 1.19
