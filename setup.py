"""Packaging for LWR: installs the ``lwr`` package and the Paste entry points ``server.ini`` names.

``pip install lwr`` installs the client library only (what Galaxy's virtualenv needs: no
dependencies); ``pip install 'lwr[server]'`` adds the server's, which are ``requirements.txt``.
``pip install -e . --no-deps`` (done by ``setup_venv.sh``, after ``requirements.txt``) is what
lets ``use = egg:lwr#server`` and ``paster serve server.ini`` find a source checkout.

The sample configurations and ``scripts/*.bash`` live at the top of the source tree; a build
copies them into the package as ``lwr/_data/`` (found at run time through ``lwr.resources``).
"""
import os
import re
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

#: Files outside the ``lwr`` package that an installed package needs (see lwr/resources.py).
PACKAGE_DATA_FILES = [
    "server.ini.sample", "job_managers.ini.sample", "local_env.sh.sample", "object_store_conf.xml.sample",
    "scripts/chown_working_directory.bash", "scripts/drmaa_kill.bash", "scripts/drmaa_launch.bash",
    "scripts/execute_script.bash", "scripts/submit.bash",
]

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


class BuildWithData(build_py):
    """build_py that also copies :data:`PACKAGE_DATA_FILES` to ``lwr/_data`` in the build (not
    for editable installs: there ``lwr.resources`` finds them in the checkout itself)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in PACKAGE_DATA_FILES:
            source = os.path.join(HERE, name)
            target = os.path.join(self.build_lib, "lwr", "_data", name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
            shutil.copymode(source, target)  # the bash scripts stay executable

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [os.path.join(self.build_lib, "lwr", "_data", name) for name in PACKAGE_DATA_FILES]


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
    package_data={"lwr.managers.util": ["job_script/*.sh"], "lwr.web": ["static/*"]},
    include_package_data=True,
    zip_safe=False,
    cmdclass={"build_py": BuildWithData},
    # The client library (lwr.lwr_client, vendored or installed into Galaxy's venv) needs
    # nothing beyond the standard library; PyYAML and kombu are imported only when used.
    install_requires=[],
    extras_require={
        "server": read_requirements(),
        "amqp": ["kombu"],
        "yaml": ["PyYAML"],
    },
    entry_points={
        "paste.app_factory": ["main = lwr.web.wsgi:app_factory"],
        # Factories: options checked (and egg:lwr#server's port bound) before the application
        # is built (lwr/web/httpserver.py, lwr/web/servers.py); the runner serves older installs.
        "paste.server_factory": ["server = lwr.web.httpserver:server_factory",
                                 "waitress = lwr.web.servers:waitress_factory"],
        "paste.server_runner": ["server = lwr.web.httpserver:server_runner"],
        "console_scripts": [
            "lwr-daemon = lwr.daemon:main",
            "lwr-submit = lwr.scripts.submit:main",
            "lwr-run-client-tests = lwr.lwr_client.test.check:main",
            "lwr-config = lwr.scripts.lwr_config:main",
            "lwr-server = lwr.scripts.lwr_server:main",
            "lwr-status = lwr.scripts.status:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX",
        "Framework :: Paste",
    ],
)
