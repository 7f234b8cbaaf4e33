from setuptools import find_packages, setup

TESTING = ["hypothesis==6.170.17"]

setup(
    name="calamari",
    version="0.1.0",
    description="Management and monitoring service for Ceph storage clusters",
    python_requires=">=3.11",
    packages=find_packages(include=["calamari", "calamari.*", "collector", "collector.*"]),
    include_package_data=True,
    install_requires=[
        "eventsourcing==9.5.6",
        # PostgreSQL event store (the library's eventsourcing.postgres needs psycopg 3 and its pool)
        "psycopg[binary,pool]==3.3.9",
        "psycopg-binary==3.3.9",
        "psycopg-pool==3.3.3",
        "msgpack==1.2.4",
        "pyzmq==27.3.0",
        "Flask==3.1.3",
        "Werkzeug==3.1.9",
        "waitress==3.0.2",
        "orjson==3.13.0",
        "pydantic==2.14.4",
        "argon2-cffi==25.1.0",
        "whisper==1.1.10",
        "psutil==7.2.2",
        "prometheus-client==0.26.0",
        "PyYAML==6.0.4",  # calamari-ctl alerts prometheus-rules
    ],
    extras_require={
        # calamari.testing: hypothesis strategies of realistic maps (tests, bench/bench_model.py); the
        # server, the collector and calamari-ctl never import it
        "testing": TESTING,
        "test": [
            *TESTING,
            "pytest==9.2.0",
            "ruff==0.17.6",
            "schemathesis==4.32.5",
            # browser tests of the web console (tests/browser); drives Debian's chromium, downloads no browser
            "playwright==1.65.2",
            # a real SMTP server (STARTTLS, AUTH) for the e-mail channel's tests
            "aiosmtpd==1.4.6",
        ],
    },
    entry_points={
        "console_scripts": [
            "calamari-server=calamari.service.main:main",
            "calamari-collector=collector.main:main",
            "calamari-ctl=calamari.service.ctl:main",
        ],
    },
)
