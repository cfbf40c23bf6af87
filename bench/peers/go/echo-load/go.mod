module spindle/bench/peers/go/echo-load

go 1.19
