#include "replica/node/effects/core_log.h"

#include <utility>

namespace belfry::replica {

CoreLogLine::CoreLogLine(CoreLogger* logger, LogLevel level, std::string_view component, std::string_view event)
    : logger_(logger), enabled_(logger == nullptr || logger->Enabled(level)), level_(level) {
  if (logger_ == nullptr) {
    line_.emplace(level, component, event);
  } else if (enabled_) {
    component_ = component;
    event_ = event;
  }
}

CoreLogLine::~CoreLogLine() {
  if (logger_ != nullptr && enabled_) logger_->Log(level_, component_, event_, std::move(fields_));
}

CoreLogLine& CoreLogLine::Add(std::string_view key, std::string_view value) {
  if (line_.has_value()) {
    line_->Add(key, value);
  } else if (enabled_) {
    fields_.push_back(LogField{std::string(key), std::string(value), false});
  }
  return *this;
}

CoreLogLine& CoreLogLine::Add(std::string_view key, uint64_t value) {
  if (line_.has_value()) {
    line_->Add(key, value);
  } else if (enabled_) {
    fields_.push_back(LogField{std::string(key), std::to_string(value), true});
  }
  return *this;
}

CoreLogLine& CoreLogLine::Add(std::string_view key, int64_t value) {
  if (line_.has_value()) {
    line_->Add(key, value);
  } else if (enabled_) {
    fields_.push_back(LogField{std::string(key), std::to_string(value), true});
  }
  return *this;
}

CoreLogLine& CoreLogLine::Add(std::string_view key, bool value) {
  if (line_.has_value()) {
    line_->Add(key, value);
  } else if (enabled_) {
    fields_.push_back(LogField{std::string(key), value ? "true" : "false", true});
  }
  return *this;
}

}  // namespace belfry::replica
