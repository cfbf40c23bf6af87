module spindle/bench/peers/go/hello

go 1.19
