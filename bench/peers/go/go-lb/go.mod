module spindle/bench/peers/go/go-lb

go 1.19
