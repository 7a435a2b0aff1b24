#include "tcp_store.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace localfeat {
namespace {

std::string Where(const std::string& host, int port) { return "tcp:" + host + ":" + std::to_string(port); }

// Resolves host:port (IPv4 or IPv6); throws naming the address.
addrinfo* Resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr)
    throw std::runtime_error("rendezvous " + Where(host, port) + ": cannot resolve host: " + gai_strerror(rc));
  return res;
}

bool WriteAll(int fd, const void* p, size_t n) {
  auto c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* p, size_t n) {
  auto c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::recv(fd, c, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteBlob(int fd, const char* p, uint32_t n) { return WriteAll(fd, &n, 4) && WriteAll(fd, p, n); }

bool ReadBlob(int fd, std::vector<char>* out) {
  uint32_t n = 0;
  if (!ReadAll(fd, &n, 4) || n > (64u << 20)) return false;  // keys and addresses are small; 64 MiB bounds a bad peer
  out->resize(n);
  return n == 0 || ReadAll(fd, out->data(), n);
}

}  // namespace

TcpStoreServer::TcpStoreServer(const std::string& host, int port) {
  addrinfo* res = Resolve(host, port, true);
  std::string err = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { err = std::strerror(errno); continue; }
    // No SO_REUSEADDR: a second run on a port in use must fail here, not share it.
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) { listenFd_ = fd; break; }
    err = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  if (listenFd_ < 0)
    throw std::runtime_error("rendezvous " + Where(host, port) + ": rank 0 cannot listen there: " + err);
  thread_ = std::thread([this] { serve(); });
}

TcpStoreServer::~TcpStoreServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : clientFds_) ::shutdown(fd, SHUT_RDWR);  // unblocks the client threads' recv
  }
  for (auto& t : clients_) t.join();
  ::close(listenFd_);
}

void TcpStoreServer::serve() {
  while (!stop_) {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    clientFds_.push_back(fd);
    clients_.emplace_back([this, fd] { client(fd); });
  }
}

// One connection: requests 'S' key value (answered 'K') and 'G' key (answered 0, or 1 and the value).
void TcpStoreServer::client(int fd) {
  while (true) {
    char op = 0;
    std::vector<char> key, value;
    if (!ReadAll(fd, &op, 1) || !ReadBlob(fd, &key)) break;
    std::string k(key.begin(), key.end());
    if (op == 'S') {
      if (!ReadBlob(fd, &value)) break;
      { std::lock_guard<std::mutex> lock(mu_); data_[k] = std::move(value); }
      char ack = 'K';
      if (!WriteAll(fd, &ack, 1)) break;
    } else if (op == 'G') {
      bool found;
      { std::lock_guard<std::mutex> lock(mu_); auto it = data_.find(k); found = it != data_.end(); if (found) value = it->second; }
      char f = found ? 1 : 0;
      if (!WriteAll(fd, &f, 1)) break;
      if (found && !WriteBlob(fd, value.data(), static_cast<uint32_t>(value.size()))) break;
    } else {
      break;
    }
  }
  ::shutdown(fd, SHUT_RDWR);
}

TcpStore::TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout)
    : where_(Where(host, port)), timeout_(timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string err = "no address";
  while (fd_ < 0) {
    addrinfo* res = Resolve(host, port, false);
    for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) { err = std::strerror(errno); continue; }
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) { fd_ = fd; break; }
      err = std::strerror(errno);
      ::close(fd);
    }
    freeaddrinfo(res);
    if (fd_ >= 0) break;
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("rendezvous " + where_ + ": no store reachable within " +
                               std::to_string(timeout.count() / 1000.0).substr(0, 5) + " s (last error: " + err + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Every request is answered at once by a live server; a dead or stuck one must not hang us.
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

TcpStore::~TcpStore() {
  if (fd_ >= 0) ::close(fd_);
}

void TcpStore::set(const std::string& key, const std::vector<char>& data) {
  std::lock_guard<std::mutex> lock(mu_);
  char op = 'S', ack = 0;
  if (!WriteAll(fd_, &op, 1) || !WriteBlob(fd_, key.data(), static_cast<uint32_t>(key.size())) ||
      !WriteBlob(fd_, data.data(), static_cast<uint32_t>(data.size())) || !ReadAll(fd_, &ack, 1) || ack != 'K')
    throw std::runtime_error("rendezvous " + where_ + ": store lost while setting '" + key + "' (rank 0 gone?)");
}

bool TcpStore::tryGet(const std::string& key, std::vector<char>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  char op = 'G', found = 0;
  if (!WriteAll(fd_, &op, 1) || !WriteBlob(fd_, key.data(), static_cast<uint32_t>(key.size())) || !ReadAll(fd_, &found, 1) ||
      (found && !ReadBlob(fd_, out)))
    throw std::runtime_error("rendezvous " + where_ + ": store lost while reading '" + key + "' (rank 0 gone?)");
  return found != 0;
}

std::vector<char> TcpStore::get(const std::string& key) {
  wait({key}, timeout_);
  std::vector<char> value;
  tryGet(key, &value);
  return value;
}

void TcpStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<char> scratch;
  for (const auto& key : keys) {
    while (!tryGet(key, &scratch)) {
      if (std::chrono::steady_clock::now() >= deadline)
        throw std::runtime_error("rendezvous " + where_ + ": timed out after " + std::to_string(timeout.count() / 1000) +
                                 " s waiting for '" + key + "' (a rank did not join)");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace localfeat
