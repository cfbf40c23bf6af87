module spindle/bench/peers/go/go-backend

go 1.19
