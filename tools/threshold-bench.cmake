# threshold-bench: prints coin and TDH2 operations per second for N=4 and N=16, and threshold
# RSA's at 2048 and 3072 bits; with --dkg, key generation's at N=4, 7 and 16
# (`make threshold-bench`; results are recorded in threshold/README.md).
add_executable(threshold-bench ${CMAKE_CURRENT_SOURCE_DIR}/threshold_bench.cc)
belfry_target_defaults(threshold-bench)
target_link_libraries(threshold-bench PRIVATE belfry_threshold)
# The threshold RSA rows deal from the fixed safe primes the tests use.
target_compile_definitions(threshold-bench PRIVATE
  BELFRY_THRESHOLD_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/test/threshold/testdata")
