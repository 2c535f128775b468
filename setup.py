"""The optional C module of the HTML scanner; a failed compile still installs the package."""

from setuptools import Extension, setup

setup(
    ext_modules=[Extension("consentgate._scanfast", ["src/consentgate/_scanfast.c"], optional=True)]
)
