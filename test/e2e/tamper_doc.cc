// tamper-doc — a test-only tool that plays a replica's faulty or malicious disk: it flips
// one byte of a stored document's content in a stopped replica's RocksDB, below the log's
// hash chain (which covers epoch records, not every stored value).
//
//   tamper-doc DATA_DIR DOC
#include <cstdio>
#include <memory>
#include <string>

#include "proto/storage.pb.h"
#include "replica/state/state_keys.h"
#include "replica/store/rocks_store.h"
#include "rocksdb/db.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: tamper-doc DATA_DIR DOC\n");
    return 2;
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Options options;
  rocksdb::Status s = rocksdb::DB::Open(options, argv[1], &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "tamper-doc: %s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  // RocksStore keeps state keys behind a one-byte prefix (replica/store/rocks_store.h).
  const std::string key =
      std::string(1, belfry::store::kRocksStatePrefix) + belfry::state::DocContentKey(argv[2]);
  std::string value;
  s = db->Get(rocksdb::ReadOptions(), key, &value);
  belfry::pb::DocumentContent content;
  if (!s.ok() || !content.ParseFromString(value) || content.data().empty()) {
    std::fprintf(stderr, "tamper-doc: no stored content for %s\n", argv[2]);
    return 1;
  }
  std::string data = content.data();
  data[0] = static_cast<char>(data[0] ^ 0x01);
  content.set_data(data);
  rocksdb::WriteOptions write;
  write.sync = true;
  s = db->Put(write, key, content.SerializeAsString());
  if (!s.ok()) {
    std::fprintf(stderr, "tamper-doc: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
