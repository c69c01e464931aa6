// Owning holders for GStreamer and GLib references, so that every early return and exception
// path releases what it took (the elements never pair refs and unrefs by hand).
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <memory>

namespace dfd::gst {

struct MiniObjectUnref {
  void operator()(void *object) const { gst_mini_object_unref(GST_MINI_OBJECT_CAST(object)); }
};
struct StructureFree {
  void operator()(GstStructure *structure) const { gst_structure_free(structure); }
};
struct GFree {
  void operator()(void *memory) const { g_free(memory); }
};
struct DateTimeUnref {
  void operator()(GDateTime *time) const { g_date_time_unref(time); }
};
struct ObjectUnref {
  void operator()(void *object) const { gst_object_unref(object); }
};

using BufferPtr = std::unique_ptr<GstBuffer, MiniObjectUnref>;
using EventPtr = std::unique_ptr<GstEvent, MiniObjectUnref>;
using QueryPtr = std::unique_ptr<GstQuery, MiniObjectUnref>;
using CapsPtr = std::unique_ptr<GstCaps, MiniObjectUnref>;
using StructurePtr = std::unique_ptr<GstStructure, StructureFree>;
using CharPtr = std::unique_ptr<gchar, GFree>;
using DateTimePtr = std::unique_ptr<GDateTime, DateTimeUnref>;
using ClockPtr = std::unique_ptr<GstClock, ObjectUnref>;

// A GstVideoFrame that is unmapped when it goes out of scope.
class MappedFrame {
 public:
  MappedFrame(const GstVideoInfo *info, GstBuffer *buffer, GstMapFlags flags)
      : mapped_(gst_video_frame_map(&frame_, const_cast<GstVideoInfo *>(info), buffer, flags)) {}
  ~MappedFrame() {
    if (mapped_) gst_video_frame_unmap(&frame_);
  }
  MappedFrame(const MappedFrame &) = delete;
  MappedFrame &operator=(const MappedFrame &) = delete;

  bool ok() const { return mapped_; }
  GstVideoFrame *get() { return &frame_; }
  const GstVideoFrame *get() const { return &frame_; }

 private:
  GstVideoFrame frame_{};
  bool mapped_ = false;
};

}  // namespace dfd::gst
