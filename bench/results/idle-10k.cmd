# idle-10k: 2026-12-03 15:53 UTC, commit 638f11f, release build
# machine: 2 CPUs (AMD EPYC), 23 GiB RAM, Linux 6.18.44-fc-v1147, open files limit 20000
taskset -c 1 /work/target-bench/release/herald-bench idle -n 10000 --hold 10 --server 127.0.0.1:47001 --server-pid 29330 --protocol phoenix --label herald --scenario idle-10k   # server: env HOST=127.0.0.1 PORT=47001 LOG_LEVEL=warn taskset -c 0 /work/target-bench/release/herald serve
taskset -c 1 /work/target-bench/release/herald-bench idle -n 10000 --hold 10 --server 127.0.0.1:47002 --server-pid 29620 --protocol phoenix --label node-ws --scenario idle-10k   # server: env PORT=47002 taskset -c 0 node bench/peers/node-ws/server.mjs
taskset -c 1 /work/target-bench/release/herald-bench idle -n 10000 --hold 10 --server 127.0.0.1:47003 --server-pid 30080 --protocol socketio --label socketio --scenario idle-10k   # server: env PORT=47003 taskset -c 0 node bench/peers/socketio/server.mjs
