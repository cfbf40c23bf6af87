module spindle/bench/peers/go/sleepers

go 1.19
