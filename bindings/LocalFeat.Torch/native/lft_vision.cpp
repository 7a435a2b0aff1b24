// Classical vision through OpenCV for the training harness: SIFT/ORB baselines, RANSAC homographies,
// matrices from cv::FileStorage files, and drawing into uint8 RGB tensors (plots, match pictures).
#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

#include "lft_internal.h"

using lft::deref;
using lft::guard;

namespace {

// A cv::Mat view of a contiguous CPU uint8 tensor [H,W] or [H,W,3]; writes go to the tensor.
cv::Mat view_u8(const at::Tensor& t, bool need_color) {
  if (t.device().type() != at::kCPU) throw std::invalid_argument("image must be a CPU tensor");
  if (t.scalar_type() != at::kByte) throw std::invalid_argument("image must be uint8, got " + std::string(c10::toString(t.scalar_type())));
  if (!t.is_contiguous()) throw std::invalid_argument("image must be contiguous");
  bool color = t.dim() == 3 && t.size(2) == 3;
  if (need_color && !color) throw std::invalid_argument("image must be [H,W,3] RGB, got " + c10::str(t.sizes()));
  if (!color && t.dim() != 2) throw std::invalid_argument("image must be [H,W] or [H,W,3], got " + c10::str(t.sizes()));
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), color ? CV_8UC3 : CV_8UC1, t.data_ptr());
}

at::Tensor from_mat(const cv::Mat& m, at::ScalarType type) {
  if (m.empty()) return at::empty({0, 0}, type);
  return at::from_blob(const_cast<uint8_t*>(m.ptr()), {m.rows, m.cols}, type).clone();
}

}  // namespace

extern "C" {

// kind 0 = SIFT (descriptors float32 [N,128]), 1 = ORB (uint8 [N,32]). keypoints float32 [N,4]:
// x, y, size, response, strongest first, at most max_features (0 = no limit; ORB needs a limit).
LFT_API int lft_vision_detect(lft_tensor image, int32_t kind, int32_t max_features, lft_tensor* keypoints,
                              lft_tensor* descriptors) {
  return guard("vision_detect", [&] {
    at::Tensor img = deref(image).contiguous();
    cv::Mat gray = view_u8(img, false);
    if (gray.channels() == 3) cv::cvtColor(gray, gray, cv::COLOR_RGB2GRAY);
    if (max_features < 0) throw std::invalid_argument("max_features must be >= 0, got " + std::to_string(max_features));
    cv::Ptr<cv::Feature2D> f;
    if (kind == 0) f = cv::SIFT::create(max_features);
    else if (kind == 1) f = cv::ORB::create(max_features > 0 ? max_features : 500);
    else throw std::invalid_argument("kind must be 0 (SIFT) or 1 (ORB), got " + std::to_string(kind));
    std::vector<cv::KeyPoint> kps;
    cv::Mat desc;
    f->detectAndCompute(gray, cv::noArray(), kps, desc);
    at::Tensor k = at::empty({static_cast<int64_t>(kps.size()), 4}, at::kFloat);
    auto a = k.accessor<float, 2>();
    for (size_t i = 0; i < kps.size(); ++i) {
      a[i][0] = kps[i].pt.x; a[i][1] = kps[i].pt.y; a[i][2] = kps[i].size; a[i][3] = kps[i].response;
    }
    at::Tensor d = kind == 0 ? from_mat(desc, at::kFloat) : from_mat(desc, at::kByte);
    if (kps.empty()) d = at::empty({0, kind == 0 ? 128 : 32}, kind == 0 ? at::kFloat : at::kByte);
    if (kind == 0 && d.size(1) != 128) throw std::runtime_error("SIFT returned descriptors of width " + std::to_string(d.size(1)));
    *keypoints = lft::wrap(k);
    *descriptors = lft::wrap(d);
  });
}

// H (row-major 3x3) mapping src → dst by RANSAC with the given reprojection threshold (pixels).
// found = 0 when OpenCV finds none (fewer than 4 points, degenerate sets). inliers: n bytes or null.
LFT_API int lft_vision_find_homography(const double* src, const double* dst, int32_t n, double threshold,
                                       double* h, int32_t* found, uint8_t* inliers) {
  return guard("vision_find_homography", [&] {
    *found = 0;
    if (n < 4) return;
    std::vector<cv::Point2d> a(n), b(n);
    for (int i = 0; i < n; ++i) { a[i] = {src[2 * i], src[2 * i + 1]}; b[i] = {dst[2 * i], dst[2 * i + 1]}; }
    cv::Mat mask;
    cv::Mat H = cv::findHomography(a, b, cv::RANSAC, threshold, mask);
    if (H.empty()) return;
    for (int i = 0; i < 9; ++i) h[i] = H.at<double>(i / 3, i % 3);
    if (inliers) for (int i = 0; i < n; ++i) inliers[i] = mask.at<uint8_t>(i);
    *found = 1;
  });
}

// A rows×cols matrix named `name` (null or "": the first top-level node) from an OpenCV
// FileStorage file (XML/YAML/JSON), as doubles, row-major.
LFT_API int lft_vision_read_matrix(const char* path, const char* name, int32_t rows, int32_t cols, double* out) {
  return guard("vision_read_matrix", [&] {
    cv::FileStorage fs(path, cv::FileStorage::READ);
    if (!fs.isOpened()) throw std::runtime_error(std::string("cannot open '") + path + "' as an OpenCV FileStorage file");
    cv::FileNode node = (name && *name) ? fs[name] : *fs.root().begin();
    if (node.empty()) throw std::runtime_error(std::string("'") + path + "' has no matrix node " + (name ? name : ""));
    cv::Mat m;
    node >> m;
    if (m.rows != rows || m.cols != cols)
      throw std::runtime_error(std::string("'") + path + "': expected a " + std::to_string(rows) + "x" + std::to_string(cols) +
                               " matrix, got " + std::to_string(m.rows) + "x" + std::to_string(m.cols));
    m.convertTo(m, CV_64F);
    for (int r = 0; r < rows; ++r) for (int c = 0; c < cols; ++c) out[r * cols + c] = m.at<double>(r, c);
  });
}

// Drawing into a contiguous uint8 [H,W,3] RGB tensor, in place (anti-aliased).
LFT_API int lft_vision_draw_line(lft_tensor image, double x0, double y0, double x1, double y1, int32_t r, int32_t g,
                                 int32_t b, int32_t thickness) {
  return guard("vision_draw_line", [&] {
    cv::Mat m = view_u8(deref(image), true);
    const int shift = 4;  // sub-pixel end points
    cv::line(m, cv::Point(cvRound(x0 * 16), cvRound(y0 * 16)), cv::Point(cvRound(x1 * 16), cvRound(y1 * 16)),
             cv::Scalar(r, g, b), std::max(1, thickness), cv::LINE_AA, shift);
  });
}

LFT_API int lft_vision_draw_circle(lft_tensor image, double x, double y, double radius, int32_t r, int32_t g, int32_t b,
                                   int32_t thickness) {
  return guard("vision_draw_circle", [&] {
    cv::Mat m = view_u8(deref(image), true);
    cv::circle(m, cv::Point(cvRound(x * 16), cvRound(y * 16)), cvRound(radius * 16), cv::Scalar(r, g, b),
               thickness, cv::LINE_AA, 4);
  });
}

// Text with its baseline's left end at (x, y); Hershey simplex font, `scale` 1 ≈ 22 px high.
LFT_API int lft_vision_draw_text(lft_tensor image, const char* text, double x, double y, double scale, int32_t r,
                                 int32_t g, int32_t b) {
  return guard("vision_draw_text", [&] {
    cv::Mat m = view_u8(deref(image), true);
    cv::putText(m, text, cv::Point(cvRound(x), cvRound(y)), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(r, g, b), 1,
                cv::LINE_AA);
  });
}

}
