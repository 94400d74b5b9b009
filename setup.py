"""Packaging for LWR: installs the ``lwr`` package and the Paste entry points ``server.ini`` names.

``pip install -e . --no-deps`` (done by ``setup_venv.sh``) is what lets ``use = egg:lwr#server``
and ``paster serve server.ini`` find LWR; the dependencies come from ``requirements.txt``.
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version() -> str:
    with open(os.path.join(HERE, "lwr", "__init__.py")) as handle:
        return re.search(r'^__version__ = "([^"]+)"', handle.read(), re.M).group(1)


def read_requirements() -> list:
    requirements = []
    with open(os.path.join(HERE, "requirements.txt")) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                requirements.append(line)
    return requirements


def read_readme() -> str:
    try:
        with open(os.path.join(HERE, "README.rst")) as handle:
            return handle.read()
    except OSError:
        return ""


setup(
    name="lwr",
    version=read_version(),
    description="LWR: run Galaxy jobs on remote hosts without a shared file system",
    long_description=read_readme(),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*", "tests", "tests.*"]),
    package_data={"lwr.managers.util": ["job_script/*.sh"]},
    include_package_data=True,
    zip_safe=False,
    install_requires=read_requirements(),
    entry_points={
        "paste.app_factory": ["main = lwr.web.wsgi:app_factory"],
        "paste.server_factory": ["server = lwr.web.httpserver:server_factory"],
        "paste.server_runner": ["server = lwr.web.httpserver:server_runner"],
        "console_scripts": [
            "lwr-daemon = lwr.daemon:main",
            "lwr-submit = lwr.scripts.submit:main",
            "lwr-run-client-tests = lwr.lwr_client.test.check:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX",
        "Framework :: Paste",
    ],
)
