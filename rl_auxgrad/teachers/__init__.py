"""Teachers: pretrained policies whose KL is the auxiliary loss."""

from .native import NativeTeacher, TeacherError, save_teacher

__all__ = ["NativeTeacher", "TeacherError", "save_teacher"]
