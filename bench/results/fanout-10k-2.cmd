# fanout-10k-2: 2026-12-03 15:55 UTC, commit 638f11f, release build
# machine: 2 CPUs (AMD EPYC), 23 GiB RAM, Linux 6.18.44-fc-v1147, open files limit 20000
taskset -c 1 /work/target-bench/release/herald-bench fanout -n 10000 -m 40 --rate 2 --server 127.0.0.1:47007 --server-pid 345 --protocol phoenix --label herald --scenario fanout-10k-2   # server: env HOST=127.0.0.1 PORT=47007 LOG_LEVEL=warn taskset -c 0 /work/target-bench/release/herald serve
taskset -c 1 /work/target-bench/release/herald-bench fanout -n 10000 -m 40 --rate 2 --server 127.0.0.1:47008 --server-pid 1121 --protocol phoenix --label node-ws --scenario fanout-10k-2   # server: env PORT=47008 taskset -c 0 node bench/peers/node-ws/server.mjs
taskset -c 1 /work/target-bench/release/herald-bench fanout -n 10000 -m 40 --rate 2 --server 127.0.0.1:47009 --server-pid 1750 --protocol socketio --label socketio --scenario fanout-10k-2   # server: env PORT=47009 taskset -c 0 node bench/peers/socketio/server.mjs
