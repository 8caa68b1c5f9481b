"""Signature specimens (mẫu chữ ký, Đ6.2, Đ19.8): submission, review and publication with history.

Not built yet (ROADMAP.md, item 3); the package holds the place the layout gives it.
"""
