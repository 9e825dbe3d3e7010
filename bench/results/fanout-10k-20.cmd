# fanout-10k-20: 2026-12-03 14:43 UTC, commit 2ba3c28, release build
# machine: 2 CPUs (AMD EPYC), 23 GiB RAM, Linux 6.18.44-fc-v1147, open files limit 20000
taskset -c 1 /work/target-bench/release/herald-bench fanout -n 10000 -m 200 --rate 20 --server 127.0.0.1:47010 --server-pid 6961 --protocol phoenix --label herald --scenario fanout-10k-20   # server: env HOST=127.0.0.1 PORT=47010 LOG_LEVEL=warn taskset -c 0 /work/target-bench/release/herald serve
taskset -c 1 /work/target-bench/release/herald-bench fanout -n 10000 -m 200 --rate 20 --server 127.0.0.1:47011 --server-pid 7190 --protocol phoenix --label node-ws --scenario fanout-10k-20   # server: env PORT=47011 taskset -c 0 node bench/peers/node-ws/server.mjs
taskset -c 1 /work/target-bench/release/herald-bench fanout -n 10000 -m 200 --rate 20 --server 127.0.0.1:47012 --server-pid 9601 --protocol socketio --label socketio --scenario fanout-10k-20   # server: env PORT=47012 taskset -c 0 node bench/peers/socketio/server.mjs
