// Least-recently-used caches for the engine: a prompt's text encodings and
// mean w (so moving a slider never re-runs the text encoders), a source's w.
#pragma once
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace gg {

template <class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}
  // The cached value, or null (a miss).
  std::shared_ptr<V> get(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void put(const std::string& key, std::shared_ptr<V> value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    while (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }
  void clear() {
    order_.clear();
    index_.clear();
  }
  size_t size() const { return order_.size(); }
  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }

 private:
  size_t capacity_;
  std::list<std::pair<std::string, std::shared_ptr<V>>> order_;
  std::unordered_map<std::string, typename decltype(order_)::iterator> index_;
  size_t hits_ = 0, misses_ = 0;
};

}  // namespace gg
