"""The built-in test CA (issue 9, point 4): for demos and tests only, and labelled so everywhere."""
