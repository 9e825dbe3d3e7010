# idle-19k: 2026-12-03 15:54 UTC, commit 638f11f, release build
# machine: 2 CPUs (AMD EPYC), 23 GiB RAM, Linux 6.18.44-fc-v1147, open files limit 20000
taskset -c 1 /work/target-bench/release/herald-bench idle -n 19000 --hold 10 --server 127.0.0.1:47004 --server-pid 30784 --protocol phoenix --label herald --scenario idle-19k   # server: env HOST=127.0.0.1 PORT=47004 LOG_LEVEL=warn taskset -c 0 /work/target-bench/release/herald serve
taskset -c 1 /work/target-bench/release/herald-bench idle -n 19000 --hold 10 --server 127.0.0.1:47005 --server-pid 31266 --protocol phoenix --label node-ws --scenario idle-19k   # server: env PORT=47005 taskset -c 0 node bench/peers/node-ws/server.mjs
taskset -c 1 /work/target-bench/release/herald-bench idle -n 19000 --hold 10 --server 127.0.0.1:47006 --server-pid 31863 --protocol socketio --label socketio --scenario idle-19k   # server: env PORT=47006 taskset -c 0 node bench/peers/socketio/server.mjs
