#include "test/fuzz/proto_mutator.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "base/bytes.h"
#include "test/fuzz/fixtures.h"

namespace belfry::fuzz {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Recursion into sub-messages stops here; the protocol messages nest at most four deep.
constexpr int kDepthMax = 8;

template <typename T>
T MutateInteger(T v, Rng& rng) {
  // Arithmetic in the unsigned type wraps instead of overflowing.
  using U = std::make_unsigned_t<T>;
  const U u = static_cast<U>(v);
  switch (rng.Uniform(7)) {
    case 0: return static_cast<T>(static_cast<U>(u + 1));
    case 1: return static_cast<T>(static_cast<U>(u - 1));
    case 2: return T{0};
    case 3: return std::numeric_limits<T>::max();
    case 4: return std::numeric_limits<T>::min();
    case 5: return static_cast<T>(static_cast<U>(u ^ (U{1} << rng.Uniform(sizeof(T) * 8))));
    default: return static_cast<T>(rng.Next64());
  }
}

int MutateEnum(const FieldDescriptor* field, int v, Rng& rng) {
  const auto* type = field->enum_type();
  // proto3 enums are open: an unknown number reaches the code that must refuse it.
  if (rng.Uniform(4) == 0) return MutateInteger<int>(v, rng);
  return type->value(static_cast<int>(rng.Uniform(static_cast<uint64_t>(type->value_count()))))->number();
}

// Changes one value of a non-message field (element `index` when repeated).
void MutateScalar(Message* m, const Reflection* r, const FieldDescriptor* f, int index, Rng& rng,
                  size_t bytes_max) {
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      if (rep) r->SetRepeatedInt32(m, f, index, MutateInteger(r->GetRepeatedInt32(*m, f, index), rng));
      else r->SetInt32(m, f, MutateInteger(r->GetInt32(*m, f), rng));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      if (rep) r->SetRepeatedInt64(m, f, index, MutateInteger(r->GetRepeatedInt64(*m, f, index), rng));
      else r->SetInt64(m, f, MutateInteger(r->GetInt64(*m, f), rng));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      if (rep) r->SetRepeatedUInt32(m, f, index, MutateInteger(r->GetRepeatedUInt32(*m, f, index), rng));
      else r->SetUInt32(m, f, MutateInteger(r->GetUInt32(*m, f), rng));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      if (rep) r->SetRepeatedUInt64(m, f, index, MutateInteger(r->GetRepeatedUInt64(*m, f, index), rng));
      else r->SetUInt64(m, f, MutateInteger(r->GetUInt64(*m, f), rng));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (rep) r->SetRepeatedDouble(m, f, index, static_cast<double>(rng.Next64()));
      else r->SetDouble(m, f, static_cast<double>(rng.Next64()));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      if (rep) r->SetRepeatedFloat(m, f, index, static_cast<float>(rng.Next64()));
      else r->SetFloat(m, f, static_cast<float>(rng.Next64()));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      if (rep) r->SetRepeatedBool(m, f, index, !r->GetRepeatedBool(*m, f, index));
      else r->SetBool(m, f, !r->GetBool(*m, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      if (rep) r->SetRepeatedEnumValue(m, f, index, MutateEnum(f, r->GetRepeatedEnumValue(*m, f, index), rng));
      else r->SetEnumValue(m, f, MutateEnum(f, r->GetEnumValue(*m, f), rng));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(*m, f, index) : r->GetString(*m, f);
      MutateBytes(&s, bytes_max);
      if (rep) r->SetRepeatedString(m, f, index, std::move(s));
      else r->SetString(m, f, std::move(s));
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;  // handled by the caller
  }
}

// Appends one default element to a repeated field.
void AddElement(Message* m, const Reflection* r, const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: r->AddInt32(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_INT64: r->AddInt64(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_UINT32: r->AddUInt32(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_UINT64: r->AddUInt64(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_DOUBLE: r->AddDouble(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_FLOAT: r->AddFloat(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_BOOL: r->AddBool(m, f, false); break;
    case FieldDescriptor::CPPTYPE_ENUM: r->AddEnumValue(m, f, 0); break;
    case FieldDescriptor::CPPTYPE_STRING: r->AddString(m, f, std::string()); break;
    case FieldDescriptor::CPPTYPE_MESSAGE: r->AddMessage(m, f); break;
  }
}

void MutateAt(Message* m, Rng& rng, size_t bytes_max, int depth) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  if (d->field_count() == 0) return;
  // Prefer fields that are set, so that mutations stay near the valid input they start
  // from; now and then pick any field, which switches a oneof or fills an absent field.
  std::vector<const FieldDescriptor*> set;
  r->ListFields(*m, &set);
  const FieldDescriptor* f =
      (!set.empty() && rng.Uniform(4) != 0)
          ? set[rng.Uniform(set.size())]
          : d->field(static_cast<int>(rng.Uniform(static_cast<uint64_t>(d->field_count()))));
  if (f->is_repeated()) {
    const int n = r->FieldSize(*m, f);
    const uint64_t op = rng.Uniform(n == 0 ? 1 : 4);
    if (op == 0) {
      AddElement(m, r, f);
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        MutateScalar(m, r, f, r->FieldSize(*m, f) - 1, rng, bytes_max);
      }
      return;
    }
    if (op == 1) {
      const int victim = static_cast<int>(rng.Uniform(static_cast<uint64_t>(n)));
      r->SwapElements(m, f, victim, n - 1);
      r->RemoveLast(m, f);
      return;
    }
    const int index = static_cast<int>(rng.Uniform(static_cast<uint64_t>(n)));
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (depth < kDepthMax) MutateAt(r->MutableRepeatedMessage(m, f, index), rng, bytes_max, depth + 1);
    } else {
      MutateScalar(m, r, f, index, rng, bytes_max);
    }
    return;
  }
  if (rng.Uniform(16) == 0) {
    r->ClearField(m, f);
    return;
  }
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    // MutableMessage also selects the member when the field is part of a oneof.
    Message* sub = r->MutableMessage(m, f);
    if (depth < kDepthMax) MutateAt(sub, rng, bytes_max, depth + 1);
    return;
  }
  MutateScalar(m, r, f, 0, rng, bytes_max);
}

// protobuf logs every string field with invalid UTF-8 it refuses; at thousands of inputs
// a second that is only noise and time.
const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return true;
}();

}  // namespace

void MutateBytes(std::string* bytes, size_t bytes_max) {
  const size_t size = bytes->size();
  const size_t cap = std::max<size_t>(bytes_max, 1);
  bytes->resize(std::max(size, cap));
  const size_t n = LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(bytes->data()), std::min(size, cap), cap);
  bytes->resize(n);
}

void MutateMessage(Message* message, Rng& rng, size_t bytes_max) {
  MutateAt(message, rng, bytes_max, 0);
}

size_t MutateSerialized(const Message& prototype, uint8_t* data, size_t size, size_t max_size,
                        unsigned int seed) {
  DeterministicRng rng(seed);
  std::unique_ptr<Message> m(prototype.New());
  if (rng.Uniform(8) != 0 && m->ParseFromArray(data, static_cast<int>(size))) {
    MutateMessage(m.get(), rng, max_size / 2);
    const std::string out = m->SerializeAsString();
    if (out.size() <= max_size) {
      std::copy(out.begin(), out.end(), data);
      return out.size();
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

size_t MutateRecords(const Message& prototype, uint8_t* data, size_t size, size_t max_size,
                     unsigned int seed) {
  DeterministicRng rng(seed);
  const std::vector<Record> parsed = SplitRecords(ByteSpan(data, size), std::numeric_limits<size_t>::max());
  if (parsed.empty() || rng.Uniform(8) == 0) return LLVMFuzzerMutate(data, size, max_size);
  std::vector<std::pair<uint8_t, std::string>> records;
  for (const Record& rec : parsed) records.emplace_back(rec.tag, std::string(rec.bytes));
  const size_t i = rng.Uniform(records.size());
  switch (rng.Uniform(8)) {
    case 0:  // the same message again, later: duplicates and replays
      records.insert(records.begin() + static_cast<ptrdiff_t>(rng.Uniform(records.size() + 1)), records[i]);
      break;
    case 1:
      records.erase(records.begin() + static_cast<ptrdiff_t>(i));
      break;
    case 2:  // reordering, as an asynchronous network may
      std::swap(records[i], records[rng.Uniform(records.size())]);
      break;
    case 3:  // the same message from another sender
      records[i].first = static_cast<uint8_t>(rng.Next64());
      break;
    default: {
      std::unique_ptr<Message> m(prototype.New());
      if (m->ParseFromString(records[i].second)) {
        MutateMessage(m.get(), rng, std::max<size_t>(max_size / 4, 64));
        records[i].second = m->SerializeAsString();
      } else {
        MutateBytes(&records[i].second, std::max<size_t>(max_size / 4, 64));
      }
    }
  }
  std::string out;
  for (const auto& [tag, bytes] : records) AppendRecord(out, tag, bytes);
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::copy(out.begin(), out.end(), data);
  return out.size();
}

}  // namespace belfry::fuzz
