// test/fuzz/proto_mutator.h — structure-aware mutation of protobuf inputs for libFuzzer.
//
// Byte-level mutation of a serialized protobuf mostly breaks the wire format, so the
// parser rejects it and the code behind the parse is never reached. These helpers parse
// the input as the message, change one field through protobuf reflection (numbers, bools,
// enums, strings and bytes through libFuzzer's own byte mutator, repeated fields grown or
// shrunk, oneofs switched by setting another member) and serialize it back. Debian 12 has
// no libprotobuf-mutator, hence this small one. Only the libFuzzer build compiles it.
#ifndef BELFRY_TEST_FUZZ_PROTO_MUTATOR_H_
#define BELFRY_TEST_FUZZ_PROTO_MUTATOR_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/message.h>

#include "base/rng.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace belfry::fuzz {

// Changes one field of `message`, possibly inside a sub-message; strings grow to at most
// `bytes_max`. Deterministic in the rng.
void MutateMessage(google::protobuf::Message* message, Rng& rng, size_t bytes_max);

// libFuzzer's byte mutator over a string, at most `bytes_max` long afterwards.
void MutateBytes(std::string* bytes, size_t bytes_max);

// The input as one `prototype`-typed message, mutated and serialized back into `data`.
// Falls back to LLVMFuzzerMutate when the input does not parse or the result would not
// fit. Returns the new size.
size_t MutateSerialized(const google::protobuf::Message& prototype, uint8_t* data, size_t size,
                        size_t max_size, unsigned int seed);

// The input as fixtures.h records whose payloads are `prototype`-typed messages: mutates
// one payload structurally, or changes a tag, or duplicates, drops or swaps records.
size_t MutateRecords(const google::protobuf::Message& prototype, uint8_t* data, size_t size,
                     size_t max_size, unsigned int seed);

}  // namespace belfry::fuzz

#endif  // BELFRY_TEST_FUZZ_PROTO_MUTATOR_H_
