# Benchmark tooling (tools/bench/README.md): belfry-bench drives a running cluster through
# the client library; etcd-load drives etcd's HTTP/JSON gateway with the same closed loop
# and reports the same figures, for `make bench` and `make bench-compare`.
add_library(belfry_bench_common STATIC ${CMAKE_CURRENT_LIST_DIR}/bench/bench_common.cc)
belfry_target_defaults(belfry_bench_common)
target_include_directories(belfry_bench_common SYSTEM PRIVATE ${ASIO_INCLUDE_DIR})
target_compile_definitions(belfry_bench_common PRIVATE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(belfry_bench_common PUBLIC belfry_base absl::status absl::statusor
                      absl::strings absl::str_format Threads::Threads)

add_executable(belfry-bench ${CMAKE_CURRENT_LIST_DIR}/bench/belfry_bench.cc)
belfry_target_defaults(belfry-bench)
target_link_libraries(belfry-bench PRIVATE belfry_bench_common belfry_client belfry_config)
belfry_program(belfry-bench)

add_executable(etcd-load ${CMAKE_CURRENT_LIST_DIR}/bench/etcd_load.cc)
belfry_target_defaults(etcd-load)
target_include_directories(etcd-load SYSTEM PRIVATE ${ASIO_INCLUDE_DIR})
target_compile_definitions(etcd-load PRIVATE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(etcd-load PRIVATE belfry_bench_common)
belfry_program(etcd-load)
