"""Feeds and sitemaps that keep the archive current: subscriptions and what each poll saw
(state), polite HTTP fetching (fetching, politeness), feed formats (formats), item keys
(items), one poll round through the one writer (polling), and the lock that makes one poller
per deployment (lock). Everything lives under `<data_dir>/feeds/`."""
