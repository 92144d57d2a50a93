//! Capture initramfs builder (issue 3). Nothing here yet.
