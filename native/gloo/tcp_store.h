// A minimal TCP key-value store for Gloo's rendezvous: Debian 12's Gloo (git 2022-05-18) has FileStore,
// HashStore and RedisStore but no TCPStore. Rank 0 serves it (TcpStoreServer); every rank, rank 0
// included, talks to it through TcpStore (a gloo::rendezvous::Store). Keys are only ever set once and read.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gloo/rendezvous/store.h"

namespace localfeat {

class TcpStoreServer {
 public:
  // Binds host:port (throws std::runtime_error naming the address and errno text, e.g. a port in use).
  TcpStoreServer(const std::string& host, int port);
  ~TcpStoreServer();

 private:
  void serve();
  void client(int fd);

  int listenFd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::vector<char>> data_;
  std::vector<std::thread> clients_;
  std::vector<int> clientFds_;
};

class TcpStore : public gloo::rendezvous::Store {
 public:
  // Connects to host:port, retrying until `timeout` (rank 0 may start later); throws naming the address.
  TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~TcpStore() override;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  bool tryGet(const std::string& key, std::vector<char>* out);
  std::string where_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::mutex mu_;
};

}  // namespace localfeat
