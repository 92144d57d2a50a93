# kexdump: build and install.
#
#   make                      build kexdump and the static kexdump-capture
#   sudo make install         install into /usr (and /etc), see below
#   make install DESTDIR=/srv/rootfs   install into another root (packaging, tests)
#
# Installs: /usr/bin/kexdump, /usr/lib/kexdump/{kexdump-capture,rearm-if-armed},
# the systemd unit, the kernel-install plugin, the /etc/kernel postinst.d and
# postrm.d hooks, the udev hotplug rule, shell completions, man pages, and
# /etc/kexdump.toml (the commented example; an existing one is kept).
# Then: `systemctl enable --now kexdump` and `kexdump status`.

PREFIX ?= /usr
SYSCONFDIR ?= /etc
DESTDIR ?=
CARGO ?= cargo

KEXDUMP := target/release/kexdump
CAPTURE := target/x86_64-unknown-linux-gnu/release/kexdump-capture

.PHONY: all install uninstall
all: $(KEXDUMP) $(CAPTURE)

# cargo decides what is stale.
.PHONY: $(KEXDUMP) $(CAPTURE)
$(KEXDUMP):
	$(CARGO) build --release --locked --bin kexdump
$(CAPTURE):
	bash scripts/build-capture.sh

install: all
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/kexdump
	install -m 0755 $(KEXDUMP) $(DESTDIR)$(PREFIX)/bin/kexdump
	install -m 0755 $(CAPTURE) $(DESTDIR)$(PREFIX)/lib/kexdump/kexdump-capture
	install -m 0755 hooks/rearm-if-armed $(DESTDIR)$(PREFIX)/lib/kexdump/rearm-if-armed
	install -D -m 0644 units/kexdump.service $(DESTDIR)$(PREFIX)/lib/systemd/system/kexdump.service
	install -D -m 0755 hooks/60-kexdump.install $(DESTDIR)$(PREFIX)/lib/kernel/install.d/60-kexdump.install
	install -D -m 0755 hooks/kernel-postinst $(DESTDIR)$(SYSCONFDIR)/kernel/postinst.d/kexdump
	install -D -m 0755 hooks/kernel-postinst $(DESTDIR)$(SYSCONFDIR)/kernel/postrm.d/kexdump
	install -D -m 0644 hooks/98-kexdump.rules $(DESTDIR)$(PREFIX)/lib/udev/rules.d/98-kexdump.rules
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(KEXDUMP) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/kexdump
	$(KEXDUMP) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_kexdump
	$(KEXDUMP) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/kexdump.fish
	$(KEXDUMP) manpages $(DESTDIR)$(PREFIX)/share/man/man1 >/dev/null
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/man/man5
	mv $(DESTDIR)$(PREFIX)/share/man/man1/kexdump.toml.5 $(DESTDIR)$(PREFIX)/share/man/man5/kexdump.toml.5
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)
	test -e $(DESTDIR)$(SYSCONFDIR)/kexdump.toml || \
		install -m 0644 etc/kexdump.toml $(DESTDIR)$(SYSCONFDIR)/kexdump.toml

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/kexdump $(DESTDIR)$(PREFIX)/lib/systemd/system/kexdump.service \
		$(DESTDIR)$(PREFIX)/lib/kernel/install.d/60-kexdump.install \
		$(DESTDIR)$(SYSCONFDIR)/kernel/postinst.d/kexdump $(DESTDIR)$(SYSCONFDIR)/kernel/postrm.d/kexdump \
		$(DESTDIR)$(PREFIX)/lib/udev/rules.d/98-kexdump.rules \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/kexdump \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_kexdump \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/kexdump.fish \
		$(DESTDIR)$(PREFIX)/share/man/man1/kexdump.1 $(DESTDIR)$(PREFIX)/share/man/man1/kexdump-*.1 \
		$(DESTDIR)$(PREFIX)/share/man/man5/kexdump.toml.5
	rm -rf $(DESTDIR)$(PREFIX)/lib/kexdump
	@echo "kept $(SYSCONFDIR)/kexdump.toml and /var/lib/kexdump"
