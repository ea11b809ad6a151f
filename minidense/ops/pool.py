"""(placeholder: filled by its issue)"""
__all__ = []
