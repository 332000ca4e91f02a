module goloop/bench/echoclient

go 1.22
