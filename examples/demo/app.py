"""The consentgate demo site, for uvicorn: ``uvicorn examples.demo.app:app``.

The site itself (templates, static files, ``consentgate.toml``) ships inside the package as
``consentgate.demo``, so ``consentgate demo`` serves the same thing after
``pip install 'consentgate[demo]'``. Without ``CONSENTGATE_SECRET_KEYS`` each start uses a
throw-away signing key (so run one worker, and expect to be asked again after a restart).
"""

from consentgate.demo import create_app

app = create_app()
